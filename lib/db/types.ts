/**
 * Public types of the embedded database: items, keys, queries, changes and
 * the options of every call.
 *
 * An item is a plain JSON object: the model's fields plus three metadata
 * attributes written by the database — `created` and `updated` (ISO 8601
 * UTC from the injected clock) and `_version` (1 on create, +1 per write).
 */

import type { Clock } from "../clock.ts";
import type { Logger } from "../log/mod.ts";
import type { ModelInput } from "../config/mod.ts";

/** A stored item: the model's fields plus metadata. */
export type Item = Record<string, unknown> & {
  created: string;
  updated: string;
  _version: number;
};

/**
 * Identifies one item: the fields its key templates use
 * (`{ deviceId: "d1", time: "2024-05-01T00:00:00.000Z" }`), or the raw key
 * `{ pk: "Sensor#d1", sk: "Reading#2024-05-01T00:00:00.000Z" }`.
 */
export type Key = Record<string, unknown>;

/** The raw DynamoDB-style key of an item. `sk` is "" when the model has no sort key. */
export interface RawKey {
  pk: string;
  sk: string;
}

/** Who made a write: this device, or the sync engine applying a cloud change. */
export type Origin = "local" | "cloud";

/** One row of the change log. */
export interface Change {
  /** Sequence number: strictly increasing, never reused, no gaps within one database. */
  seq: number;
  model: string;
  pk: string;
  sk: string;
  op: "create" | "update" | "delete";
  /** The item's `_version` after the write (for delete: the removed version + 1). */
  version: number;
  /** ISO 8601 UTC time of the write. */
  time: string;
  origin: Origin;
}

/** Options shared by every write. */
export interface WriteOptions {
  /** Who made the write; `cloud` writes are not sent back by sync. @default "local" */
  origin?: Origin;
}

/** Options of `update` and `remove`. */
export interface ConditionalOptions extends WriteOptions {
  /**
   * Fail with a `conflict` DbError (and change nothing) unless the stored
   * `_version` is this; 0 means "only if the item does not exist".
   */
  ifVersion?: number;
}

/** Options of `update`. */
export interface UpdateOptions extends ConditionalOptions {
  /** Create the item from key + patch when it does not exist. @default false */
  upsert?: boolean;
}

/** Options of `put` (create or replace a whole item). */
export interface PutOptions extends ConditionalOptions {
  /**
   * Keep `created`, `updated` and `_version` from the given item instead of
   * setting them (import, and sync applying cloud items). @default false
   */
  keepMeta?: boolean;
}

/** A condition on a sort-key field (or on the raw `sk`) in a `find` query. */
export interface Range {
  /** Values starting with this string. */
  beginsWith?: string;
  gt?: unknown;
  gte?: unknown;
  lt?: unknown;
  lte?: unknown;
  /** Inclusive on both ends. */
  between?: [unknown, unknown];
}

/**
 * A `find` query: equality values for the partition-key fields (all of them,
 * or none to scan the whole model), then optionally sort-key fields in
 * template order — plain values for equality, a `Range` for the last one.
 * The raw `pk` (string) and `sk` (string or Range) may be given instead.
 */
export type Query = Record<string, unknown>;

/** Options of `find`. */
export interface FindOptions {
  /** Query a local secondary index instead of the model's sort key. */
  index?: string;
  /** Most items returned. @default 100 (max 10000) */
  limit?: number;
  /** The `next` cursor of the previous page. */
  next?: string;
  /** Descending sort-key order. @default false */
  reverse?: boolean;
  /** Filter applied after the key query: field equality, or a predicate. */
  where?: Record<string, unknown> | ((item: Item) => boolean);
}

/** A page of `find`. */
export interface Page {
  items: Item[];
  /** Opaque cursor for the next page; absent when there are no more items. */
  next?: string;
}

/** Options of `Database.open`. */
export interface DatabaseOptions {
  /** SQLite file path (created 0600, its directory 0700), or ":memory:". */
  path: string;
  /** User models (schema.json5 `models`). @default {} */
  schema?: Record<string, ModelInput>;
  /** System models (names start with "_"), same format. @default {} */
  systemModels?: Record<string, ModelInput>;
  /** Time source for created/updated/TTL and the purge loop. @default systemClock */
  clock?: Clock;
  /** @default nullLogger */
  log?: Logger;
  /**
   * "NORMAL": in WAL mode a commit survives a process crash (kill -9); the
   * last commits may be lost on power loss or an OS crash. "FULL": every
   * commit is fsynced (slower, survives power loss). @default "NORMAL"
   */
  synchronous?: "NORMAL" | "FULL";
  /** Purge interval for TTL-expired items and retention, in ms; 0 disables the loop. @default 60000 */
  purgeInterval?: number;
  /** Change rows kept when no consumer cursor exists. @default 100000 */
  changeLogLimit?: number;
  /** How long a write waits for another process's lock, in ms. @default 5000 */
  busyTimeout?: number;
}

/** A persisted consumer position in the change log. */
export interface Cursor {
  readonly name: string;
  /** Last processed sequence number (0 when new). */
  get(): number;
  /** Record progress; call inside `db.transaction` with the consumer's own writes for exactly-once. */
  set(seq: number): void;
  /** Changes after the cursor. */
  read(options?: { limit?: number }): Change[];
  /** Remove the cursor: it no longer holds back pruning. */
  drop(): void;
}
