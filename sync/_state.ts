/**
 * Sync's own tables in the agent's SQLite file (through `db.sql`):
 *
 * - `_sync_state (key, value)`: down-sync cursors (`down:TABLE:ADDRESS` →
 *   the highest `updated` seen, ISO 8601), last success and last error of
 *   each direction, conflict count — read by `tern sync status` while the
 *   agent runs.
 * - `_sync_base (model, pk, sk, updated, version, deleted)`: for models
 *   synced "both", the version both sides held after the last successful
 *   exchange of each item. A side whose version differs from the base has
 *   changed since; when both have, it is a conflict.
 *
 * The up-sync position is the database's consumer cursor "sync" (it holds
 * back the pruning of the change log until sync passed).
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { Stamp } from "./conflict.ts";

const DDL = `
CREATE TABLE IF NOT EXISTS _sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _sync_base (
  model TEXT NOT NULL, pk TEXT NOT NULL, sk TEXT NOT NULL,
  updated TEXT NOT NULL, version INTEGER NOT NULL, deleted INTEGER NOT NULL,
  PRIMARY KEY (model, pk, sk)) WITHOUT ROWID;
`;

/** Name of the up-sync cursor in the database's change log. */
export const UP_CURSOR = "sync";

export class SyncState {
  readonly #sql: DatabaseSync;
  readonly #stmts = new Map<string, StatementSync>();
  readonly #pending = { since: -1, upto: 0, map: new Map<string, Stamp>() };

  constructor(sql: DatabaseSync) {
    this.#sql = sql;
    sql.exec(DDL);
  }

  #stmt(text: string): StatementSync {
    let s = this.#stmts.get(text);
    if (!s) this.#stmts.set(text, s = this.#sql.prepare(text));
    return s;
  }

  get(key: string): string | undefined {
    const row = this.#stmt("SELECT value FROM _sync_state WHERE key = ?").get(key) as
      | { value: string }
      | undefined;
    return row?.value;
  }

  set(key: string, value: string): void {
    this.#stmt(
      "INSERT INTO _sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ).run(key, value);
  }

  delete(prefix: string): void {
    this.#stmt("DELETE FROM _sync_state WHERE key >= ? AND key < ?").run(prefix, prefix + "\uffff");
  }

  /** Every key starting with `prefix`. */
  entries(prefix: string): [string, string][] {
    const rows = this.#stmt("SELECT key, value FROM _sync_state WHERE key >= ? AND key < ?")
      .all(prefix, prefix + "\uffff") as { key: string; value: string }[];
    return rows.map((r) => [r.key, r.value]);
  }

  base(model: string, pk: string, sk: string): Stamp | undefined {
    const row = this.#stmt(
      "SELECT updated, version, deleted FROM _sync_base WHERE model = ? AND pk = ? AND sk = ?",
    ).get(model, pk, sk) as { updated: string; version: number; deleted: number } | undefined;
    return row
      ? { updated: row.updated, version: Number(row.version), deleted: row.deleted === 1 }
      : undefined;
  }

  setBase(model: string, pk: string, sk: string, stamp: Stamp): void {
    this.#stmt(
      "INSERT INTO _sync_base (model, pk, sk, updated, version, deleted) VALUES (?, ?, ?, ?, ?, ?) " +
        "ON CONFLICT (model, pk, sk) DO UPDATE SET updated = excluded.updated, " +
        "version = excluded.version, deleted = excluded.deleted",
    ).run(model, pk, sk, stamp.updated, stamp.version, stamp.deleted ? 1 : 0);
  }

  /**
   * The newest pending (after `since`) local delete of a key, as a stamp.
   * Kept incrementally: each change row is read once per cursor position.
   */
  pendingDelete(since: number, model: string, pk: string, sk: string): Stamp | undefined {
    const p = this.#pending;
    if (p.since !== since) {
      p.since = p.upto = since;
      p.map.clear();
    }
    const last = this.#stmt("SELECT max(seq) AS m FROM _changes").get() as { m: number | null };
    const top = Number(last.m ?? 0);
    if (top > p.upto) {
      const rows = this.#stmt(
        "SELECT model, pk, sk, version, time FROM _changes WHERE seq > ? AND seq <= ? " +
          "AND op = 'delete' AND origin = 'local' ORDER BY seq",
      ).all(p.upto, top) as {
        model: string;
        pk: string;
        sk: string;
        version: number;
        time: string;
      }[];
      for (const r of rows) {
        p.map.set(`${r.model}\u0000${r.pk}\u0000${r.sk}`, {
          updated: r.time,
          version: Number(r.version),
          deleted: true,
        });
      }
      p.upto = top;
    }
    return p.map.get(`${model}\u0000${pk}\u0000${sk}`);
  }

  /** Pending local changes per model after `since`. */
  backlog(since: number): Record<string, number> {
    const rows = this.#stmt(
      "SELECT model, count(*) AS n FROM _changes WHERE seq > ? AND origin = 'local' GROUP BY model",
    ).all(since) as { model: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.model, Number(r.n)]));
  }
}
