/**
 * The spool's prepared statements (the tables are described and created in
 * `spool.ts`). Internal to lib/cloud.
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";

/** A row of `_spool_streams`. */
export interface StreamRow {
  sid: number;
  name: string;
  appended: number;
  sent: number;
  dropped: number;
  refused: number;
  last_error: string | null;
  last_error_at: number | null;
  last_ack_at: number | null;
  inflight_upto: number | null;
  inflight_meta: string | null;
  inflight_at: number | null;
}

/**
 * A row to insert: one record (`n` = 1, `data` as is) or a pack of `n`
 * records appended together (`data` as `spool.ts` packs it, `time` the first
 * one's, `bytes` the sum of theirs), all with the same `key` (or none).
 */
export interface _Row {
  time: number;
  bytes: number;
  n: number;
  key: string | null;
  data: string;
}

/** A stored row without its data: where the head of a stream is. */
export interface _Head {
  id: number;
  n: number;
  /** Index of the row's first record (records before it were acked or dropped). */
  k0: number;
  bytes: number;
}

/** A stored row as `peek` reads it. */
export interface _StoredRow extends _Head {
  time: number;
  key: string | null;
  data: string;
}

/** A row as `peek` reads it: `[id, time, bytes, n, k0, key, data]`. */
export type _PeekRow = [number, number, number, number, number, string | null, string];

/** Rows per multi-row INSERT, largest first (64 × 6 parameters, far under SQLite's 32,766). */
const _BLOCKS = [64, 8, 1] as const;

/** The multi-row INSERT of each block size, built once. */
const _INSERT_SQL = new Map(
  _BLOCKS.map((rows) => [
    rows,
    "INSERT INTO _spool (sid, time, bytes, n, key, data) VALUES " +
    Array.from({ length: rows }, () => "(?, ?, ?, ?, ?, ?)").join(", "),
  ]),
);

export class _Statements {
  readonly #db: DatabaseSync;
  readonly #cache = new Map<string, StatementSync>();
  #peek: StatementSync | undefined;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  #s(sql: string): StatementSync {
    let s = this.#cache.get(sql);
    if (!s) this.#cache.set(sql, s = this.#db.prepare(sql));
    return s;
  }

  ensure(name: string): StreamRow {
    this.#s("INSERT OR IGNORE INTO _spool_streams (name) VALUES (?)").run(name);
    return this.#s("SELECT * FROM _spool_streams WHERE name = ?").get(name) as unknown as StreamRow;
  }

  stream(sid: number): StreamRow {
    return this.#s("SELECT * FROM _spool_streams WHERE sid = ?").get(sid) as unknown as StreamRow;
  }

  allStreams(): StreamRow[] {
    return this.#s("SELECT * FROM _spool_streams ORDER BY name").all() as unknown as StreamRow[];
  }

  /**
   * Insert `rows` in id order with multi-row INSERTs (blocks of 64, 8, 1
   * rows: one statement run per block instead of per row, the binding's
   * per-call cost being most of an insert's). Returns the last id (0 for none).
   */
  insertMany(sid: number, rows: readonly _Row[]): number {
    let last = 0;
    let i = 0;
    for (const size of _BLOCKS) {
      if (rows.length - i < size) continue;
      const stmt = this.#s(_INSERT_SQL.get(size)!);
      const args: (number | string | null)[] = new Array(size * 6);
      while (rows.length - i >= size) {
        for (let k = 0; k < size; k++) {
          const r = rows[i + k]!;
          args[k * 6] = sid;
          args[k * 6 + 1] = r.time;
          args[k * 6 + 2] = r.bytes;
          args[k * 6 + 3] = r.n;
          args[k * 6 + 4] = r.key;
          args[k * 6 + 5] = r.data;
        }
        last = Number(stmt.run(...args).lastInsertRowid);
        i += size;
      }
    }
    return last;
  }

  totals(sid: number): { n: number; b: number } {
    const r = this.#s(
      "SELECT COALESCE(SUM(n), 0) AS n, COALESCE(SUM(bytes), 0) AS b FROM _spool WHERE sid = ?",
    )
      .get(sid) as { n: number; b: number };
    return { n: Number(r.n), b: Number(r.b) };
  }

  headTime(sid: number): number | undefined {
    const r = this.#s("SELECT time FROM _spool WHERE sid = ? ORDER BY id LIMIT 1").get(sid) as
      | { time: number }
      | undefined;
    return r?.time;
  }

  head(sid: number, limit: number): _Head[] {
    return this.#s("SELECT id, n, k0, bytes FROM _spool WHERE sid = ? ORDER BY id LIMIT ?").all(
      sid,
      limit,
    ) as unknown as _Head[];
  }

  row(sid: number, id: number): _StoredRow | undefined {
    return this.#s("SELECT id, n, k0, bytes, time, key, data FROM _spool WHERE sid = ? AND id = ?")
      .get(sid, id) as unknown as _StoredRow | undefined;
  }

  /** Rows from `fromId` (inclusive), in id order, as arrays `[id, time, bytes, n, k0, key, data]`. */
  peek(sid: number, fromId: number, limit: number): _PeekRow[] {
    // Rows as arrays, made into records here: the binding builds an object
    // row property by property, about 3× the cost per row (measured with
    // 10,000-row peeks: 0.27 µs vs 0.7 µs per row).
    // (`setReturnArrays` is public node:sqlite API, Node 24; @types/node lags.)
    if (!this.#peek) {
      const stmt = this.#db.prepare(
        "SELECT id, time, bytes, n, k0, key, data FROM _spool WHERE sid = ? AND id >= ? ORDER BY id LIMIT ?",
      ) as StatementSync & { setReturnArrays?: (on: boolean) => void };
      if (typeof stmt.setReturnArrays !== "function") {
        throw new TypeError("This runtime's node:sqlite has no StatementSync.setReturnArrays");
      }
      stmt.setReturnArrays(true);
      this.#peek = stmt;
    }
    return this.#peek.all(sid, fromId, limit) as unknown as _PeekRow[];
  }

  /** Delete the rows before `id` (exclusive); returns the records and bytes they held. */
  deleteBefore(sid: number, id: number): { n: number; b: number } {
    const r = this.#s(
      "SELECT COALESCE(SUM(n), 0) AS n, COALESCE(SUM(bytes), 0) AS b FROM _spool " +
        "WHERE sid = ? AND id < ?",
    ).get(sid, id) as { n: number; b: number };
    if (r.n > 0) this.#s("DELETE FROM _spool WHERE sid = ? AND id < ?").run(sid, id);
    return { n: Number(r.n), b: Number(r.b) };
  }

  deleteRow(sid: number, id: number): void {
    this.#s("DELETE FROM _spool WHERE sid = ? AND id = ?").run(sid, id);
  }

  /** Keep only the tail of a pack: its records from index `k0` on. */
  rewrite(sid: number, id: number, row: Omit<_Row, "key"> & { k0: number }): void {
    this.#s(
      "UPDATE _spool SET time = ?, bytes = ?, n = ?, k0 = ?, data = ? WHERE sid = ? AND id = ?",
    )
      .run(row.time, row.bytes, row.n, row.k0, row.data, sid, id);
  }

  counted(sid: number, appended: number, dropped: number): void {
    this.#s(
      "UPDATE _spool_streams SET appended = appended + ?, dropped = dropped + ? WHERE sid = ?",
    ).run(appended, dropped, sid);
  }

  acked(sid: number, sent: number, refused: number, at: number): void {
    this.#s(
      "UPDATE _spool_streams SET sent = sent + ?, refused = refused + ?, last_ack_at = ?, " +
        "inflight_upto = NULL, inflight_meta = NULL, inflight_at = NULL WHERE sid = ?",
    ).run(sent, refused, at, sid);
  }

  failed(sid: number, error: string, at: number): void {
    this.#s("UPDATE _spool_streams SET last_error = ?, last_error_at = ? WHERE sid = ?").run(
      error,
      at,
      sid,
    );
  }

  setInflight(sid: number, upTo: number | null, meta: string | null, at: number | null): void {
    this.#s(
      "UPDATE _spool_streams SET inflight_upto = ?, inflight_meta = ?, inflight_at = ? WHERE sid = ?",
    ).run(upTo, meta, at, sid);
  }

  getState(sid: number, key: string): string | undefined {
    const r = this.#s("SELECT value FROM _spool_state WHERE sid = ? AND key = ?").get(sid, key) as
      | { value: string }
      | undefined;
    return r?.value;
  }

  allState(sid: number): Record<string, string> {
    const rows = this.#s("SELECT key, value FROM _spool_state WHERE sid = ?").all(sid) as {
      key: string;
      value: string;
    }[];
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }

  setState(sid: number, key: string, value: string | null): void {
    if (value === null) this.#s("DELETE FROM _spool_state WHERE sid = ? AND key = ?").run(sid, key);
    else {
      this.#s("INSERT OR REPLACE INTO _spool_state (sid, key, value) VALUES (?, ?, ?)").run(
        sid,
        key,
        value,
      );
    }
  }
}
