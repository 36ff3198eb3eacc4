/**
 * The change log: one row per committed write, appended in the same SQLite
 * transaction as the write, read in order by `seq`. Consumers (sync, cloud
 * buffers) keep a named cursor in `_cursors`; rows every cursor has passed
 * are pruned. Without any cursor the newest `limit` rows are kept.
 *
 * Subscribers are told after the transaction commits, in commit order; a
 * subscriber that throws is logged and does not affect the others.
 */

import type { Logger } from "../log/mod.ts";
import type { Statements } from "./_sql.ts";
import type { Change, Cursor, Origin } from "./types.ts";

type Listener = (change: Change) => void;

const INSERT =
  "INSERT INTO _changes (model, pk, sk, op, version, time, origin) VALUES (?, ?, ?, ?, ?, ?, ?)";
const READ =
  "SELECT seq, model, pk, sk, op, version, time, origin FROM _changes WHERE seq > ? ORDER BY seq LIMIT ?";
const LAST = "SELECT seq FROM sqlite_sequence WHERE name = '_changes'";

export class ChangeLog {
  #stmts: Statements;
  #log: Logger;
  #listeners = new Map<Listener, string | undefined>();
  #pending: Change[] = [];

  constructor(stmts: Statements, log: Logger) {
    this.#stmts = stmts;
    this.#log = log;
  }

  /** Append a change row (inside the caller's transaction); returns its seq. */
  append(
    model: string,
    pk: string,
    sk: string,
    op: Change["op"],
    version: number,
    time: string,
    origin: Origin,
  ): number {
    const r = this.#stmts.get(INSERT).run(model, pk, sk, op, version, time, origin);
    const seq = Number(r.lastInsertRowid);
    if (this.#listeners.size > 0) {
      this.#pending.push({ seq, model, pk, sk, op, version, time, origin });
    }
    return seq;
  }

  /** Changes after `since`, oldest first. */
  read(since: number, limit = 1000): Change[] {
    if (!Number.isSafeInteger(since) || since < 0) {
      throw new RangeError(`changes() since must be an integer ≥ 0, got ${since}`);
    }
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new RangeError(`changes() limit must be an integer ≥ 1, got ${limit}`);
    }
    const rows = this.#stmts.get(READ).all(since, limit);
    return rows.map((r) => ({ ...r }) as unknown as Change);
  }

  /** The highest seq ever assigned (0 for a new database). */
  lastSeq(): number {
    const row = this.#stmts.get(LAST).get() as { seq: number } | undefined;
    return row ? Number(row.seq) : 0;
  }

  subscribe(model: string | undefined, fn: Listener): () => void {
    this.#listeners.set(fn, model);
    return () => this.#listeners.delete(fn);
  }

  /** After commit: hand pending changes to subscribers. */
  flush(): void {
    if (this.#pending.length === 0) return;
    const pending = this.#pending;
    this.#pending = [];
    for (const change of pending) {
      for (const [fn, model] of this.#listeners) {
        if (model !== undefined && model !== change.model) continue;
        try {
          fn(change);
        } catch (e) {
          this.#log.error("Change subscriber failed", { error: String(e), seq: change.seq });
        }
      }
    }
  }

  /** After rollback: forget pending changes. */
  discard(): void {
    this.#pending = [];
  }

  cursor(name: string, read: (since: number, limit?: number) => Change[]): Cursor {
    if (typeof name !== "string" || name === "") throw new TypeError("A cursor needs a name");
    const stmts = this.#stmts;
    return {
      name,
      get: () => {
        const row = stmts.get("SELECT seq FROM _cursors WHERE name = ?").get(name) as
          | { seq: number }
          | undefined;
        return row ? Number(row.seq) : 0;
      },
      set: (seq: number) => {
        if (!Number.isSafeInteger(seq) || seq < 0) {
          throw new RangeError(`Cursor "${name}" position must be an integer ≥ 0, got ${seq}`);
        }
        stmts.get(
          "INSERT INTO _cursors (name, seq) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
        ).run(name, seq);
      },
      read(options = {}) {
        return read(this.get(), options.limit);
      },
      drop: () => {
        stmts.get("DELETE FROM _cursors WHERE name = ?").run(name);
      },
    };
  }

  /** Every cursor and its position. */
  cursors(): { name: string; seq: number }[] {
    const rows = this.#stmts.get("SELECT name, seq FROM _cursors ORDER BY name").all();
    return rows.map((r) => ({ name: String(r.name), seq: Number(r.seq) }));
  }

  /**
   * Delete rows every cursor has passed; without cursors keep the newest
   * `keep` rows. Returns the number of rows deleted.
   */
  prune(keep: number): number {
    const min = this.#stmts.get("SELECT count(*) AS n, min(seq) AS low FROM _cursors").get() as {
      n: number;
      low: number | null;
    };
    const upTo = min.n > 0 ? Number(min.low) : this.lastSeq() - keep;
    if (upTo <= 0) return 0;
    return Number(this.#stmts.get("DELETE FROM _changes WHERE seq <= ?").run(upTo).changes);
  }
}
