/**
 * The on-disk layout and a prepared-statement cache.
 *
 * Tables (one SQLite file, WAL):
 * - `_meta(key, value)`: `format` (layout version, "1") and `models` (the
 *   model definitions last applied, JSON) for migrations.
 * - `_items(model, pk, sk, version, created, expires, data)`: every item;
 *   `data` is the item as JSON (fields + created, updated, _version);
 *   `created`/`expires` are ms since the epoch (retention, TTL; expires NULL
 *   when the item never expires). Primary key (model, pk, sk).
 * - `_index(model, idx, pk, isk, sk)`: one row per item and local secondary
 *   index, `isk` being the index sort key.
 * - `_changes(seq, model, pk, sk, op, version, time, origin)`: the change log;
 *   `seq` is AUTOINCREMENT, so it is never reused even after pruning.
 * - `_cursors(name, seq)`: consumer positions in the change log.
 *
 * Subsystems may add their own tables through `db.sql` (names not starting
 * with "_" are theirs to choose; prefix them with the subsystem, "mqtt_queue").
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";

export const FORMAT = "1";

export const DDL = `
CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _items (
  model TEXT NOT NULL, pk TEXT NOT NULL, sk TEXT NOT NULL,
  version INTEGER NOT NULL, created INTEGER NOT NULL, expires INTEGER, data TEXT NOT NULL,
  PRIMARY KEY (model, pk, sk)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS _items_expires ON _items (expires) WHERE expires IS NOT NULL;
CREATE INDEX IF NOT EXISTS _items_created ON _items (model, created);
CREATE TABLE IF NOT EXISTS _index (
  model TEXT NOT NULL, idx TEXT NOT NULL, pk TEXT NOT NULL, isk TEXT NOT NULL, sk TEXT NOT NULL,
  PRIMARY KEY (model, idx, pk, isk, sk)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL, pk TEXT NOT NULL, sk TEXT NOT NULL,
  op TEXT NOT NULL, version INTEGER NOT NULL, time TEXT NOT NULL, origin TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
`;

/** Pragmas applied on open; the benchmark applies the same to raw node:sqlite. */
export function pragmas(synchronous: "NORMAL" | "FULL", busyTimeout: number): string {
  return `PRAGMA journal_mode = WAL; PRAGMA synchronous = ${synchronous}; ` +
    `PRAGMA busy_timeout = ${Math.floor(busyTimeout)}; PRAGMA foreign_keys = OFF;`;
}

/** Prepared statements by SQL text. Statements are finalized with the database. */
export class Statements {
  #db: DatabaseSync;
  #cache = new Map<string, StatementSync>();

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  get(sql: string): StatementSync {
    let s = this.#cache.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      this.#cache.set(sql, s);
    }
    return s;
  }

  clear(): void {
    this.#cache.clear();
  }
}

/**
 * A reader of SQLite's `PRAGMA data_version`, which changes when another
 * connection commits. The row comes back as an array: a row object of
 * `node:sqlite` has a fresh shape each time, which kept the JIT's code for a
 * hot caller deoptimizing ("wrong map") once a second. Throws like
 * `prepare` when the database cannot answer.
 */
export function dataVersionReader(sql: DatabaseSync): () => unknown {
  const stmt = sql.prepare("PRAGMA data_version") as StatementSync & {
    setReturnArrays?(on: boolean): void;
  };
  if (typeof stmt.setReturnArrays === "function") {
    stmt.setReturnArrays(true);
    return () => (stmt.get() as unknown as unknown[] | undefined)?.[0];
  }
  return () => (stmt.get() as { data_version?: unknown } | undefined)?.data_version;
}
