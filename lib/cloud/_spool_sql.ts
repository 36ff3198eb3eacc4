/**
 * The spool's prepared statements (the tables are described and created in
 * `spool.ts`). Internal to lib/cloud.
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { SpoolRecord } from "./spool.ts";

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

export class _Statements {
  readonly #db: DatabaseSync;
  readonly #cache = new Map<string, StatementSync>();

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

  insert(sid: number, time: number, bytes: number, data: string): number {
    const r = this.#s("INSERT INTO _spool (sid, time, bytes, data) VALUES (?, ?, ?, ?)").run(
      sid,
      time,
      bytes,
      data,
    );
    return Number(r.lastInsertRowid);
  }

  totals(sid: number): { n: number; b: number } {
    const r = this.#s(
      "SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM _spool WHERE sid = ?",
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

  head(sid: number, limit: number): { id: number; bytes: number }[] {
    return this.#s("SELECT id, bytes FROM _spool WHERE sid = ? ORDER BY id LIMIT ?").all(
      sid,
      limit,
    ) as unknown as { id: number; bytes: number }[];
  }

  peek(sid: number, after: number, limit: number): SpoolRecord[] {
    return this.#s(
      "SELECT id, time, bytes, data FROM _spool WHERE sid = ? AND id > ? ORDER BY id LIMIT ?",
    ).all(sid, after, limit) as unknown as SpoolRecord[];
  }

  deleteUpTo(sid: number, upTo: number): number {
    const r = this.#s("DELETE FROM _spool WHERE sid = ? AND id <= ?").run(sid, upTo);
    return Number(r.changes);
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
