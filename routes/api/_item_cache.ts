/**
 * A read-through cache of `GET /api/data/:model/:key` answers (the JSON
 * text, and the route's prepared private answer of it, which each request
 * clones), so reading a hot item costs no SQLite read and no new `Response`.
 *
 * It cannot serve stale data:
 * - every committed write made through this process's database (API, sync,
 *   device code) evicts the item at once, through the change feed;
 * - a commit by another process (a second connection to the same file) is
 *   noticed through SQLite's `PRAGMA data_version`, asked at most once per
 *   `foreignCheckMs` (the pragma costs ~4 µs through node:sqlite, as much as
 *   the rest of the request), which empties the cache: such a write shows
 *   within that time (default 1 s, the same bound as for sessions);
 * - items of a model with a TTL field are never cached (expiry and the
 *   purge do not go through the change feed);
 * - an entry remembers the model definition it was shaped with, so a schema
 *   reload (hidden fields) is never answered from the old shape;
 * - entries are keyed by the item key's canonical text (what `_key` holds);
 *   a request spelling a key another way is not cached, so the entry the
 *   change feed evicts is the only one there is. The model name is checked
 *   on the entry, not built into the map key: a request then allocates no
 *   key string (two models' items with the same key text share a slot, and
 *   a write to either evicts it).
 *
 * Bounded: at most `max` entries, the oldest inserted go first.
 */

import type { Clock } from "../../lib/clock.ts";
import { type Database, dataVersionReader, type Model } from "../../lib/db/mod.ts";

/** One cached item's answer. */
export interface CachedItem {
  readonly body: string;
  /** The route's answer of `body` for a logged-in caller, built once (requests clone it). */
  answer: Response | undefined;
}

interface _Entry extends CachedItem {
  name: string;
  model: Model;
}

export class ItemCache {
  readonly #max: number;
  readonly #map = new Map<string, _Entry>();
  readonly #unsubscribe: () => void;
  #version: (() => unknown) | undefined;
  #seen: unknown;
  readonly #clock: Clock;
  readonly #every: number;
  #checkedAt = -Infinity;

  /** `keyText` turns a raw key into its canonical text (the API's `_key`). */
  constructor(
    db: Database,
    keyText: (pk: string, sk: string) => string,
    options: { clock: Clock; foreignCheckMs?: number; max?: number },
  ) {
    this.#clock = options.clock;
    this.#every = options.foreignCheckMs ?? 1000;
    this.#max = options.max ?? 1000;
    this.#unsubscribe = db.subscribe(undefined, (c) => {
      if (this.#map.size > 0) this.#map.delete(keyText(c.pk, c.sk));
    });
    try {
      this.#version = dataVersionReader(db.sql);
      this.#seen = this.#read();
    } catch {
      this.#version = undefined; // no way to see other processes: do not cache at all
    }
  }

  #read(): unknown {
    return this.#version!();
  }

  /** The cached answer, or undefined; `now`: the request's time, when it has one. */
  get(
    model: string,
    key: string,
    current: Model,
    now: number = this.#clock.now(),
  ): CachedItem | undefined {
    if (!this.#version || this.#map.size === 0) return undefined;
    if (now - this.#checkedAt < this.#every) {
      const e = this.#map.get(key);
      return e && e.name === model && e.model === current ? e : undefined;
    }
    this.#checkedAt = now;
    let v: unknown;
    try {
      v = this.#read();
    } catch {
      v = undefined;
    }
    if (v === undefined || v !== this.#seen) {
      this.#seen = v;
      this.#map.clear();
      return undefined;
    }
    const e = this.#map.get(key);
    return e && e.name === model && e.model === current ? e : undefined;
  }

  /** Remember an answer just read from the database; `key` must be canonical. */
  put(model: string, key: string, current: Model, body: string): void {
    if (!this.#version || current.ttlField) return;
    if (this.#map.size === 0) {
      // Start from the version the read saw (a foreign commit before it is already in it).
      try {
        this.#seen = this.#read();
      } catch {
        return;
      }
    }
    if (this.#map.size >= this.#max) this.#map.delete(this.#map.keys().next().value!);
    this.#map.set(key, { name: model, model: current, body, answer: undefined });
  }

  close(): void {
    this.#unsubscribe();
    this.#map.clear();
  }
}
