/**
 * The audit chain: the agent's tamper-evident table of security events, in
 * the agent's database. lib/cloud/audit records into it (and ships it);
 * `tern audit verify|list|export` and `/api/audit` read it.
 *
 * Table `_audit(seq INTEGER PRIMARY KEY, id TEXT UNIQUE, time INTEGER,
 * action TEXT, actor TEXT, outcome TEXT, data TEXT, hash TEXT)`:
 * - `data` is the event as JSON text, exactly as hashed: `{id, seq, time
 *   (ISO 8601), actor {type, id}, source, action, target?, outcome, details?,
 *   device, prev}`; `prev` is the `hash` of the event before it;
 * - `hash` = SHA-256 (hex) of `data`;
 * - `time` (ms since the epoch), `action`, `actor` (`type:id`) and `outcome`
 *   repeat fields of `data` for filtering; `verify` checks they agree.
 *
 * `_meta` rows (lib/db's key/value table): `audit.anchor` = `{seq, hash}` of
 * the last event pruned (the `prev` of the first row kept; seq 0 and 64
 * zeros before any pruning), `audit.head` = `{seq, hash}` of the newest
 * event, written with it, so cutting the newest rows off is detected too.
 *
 * `verify()` walks the chain and names the first broken link: a row whose
 * hash is not its data's, whose `prev` is not the hash before it, whose seq
 * is not the one after the previous (a deleted or reordered row), or whose
 * columns disagree with its data. Someone who rewrites every row from the
 * change on *and* both `_meta` rows is not detectable on the device alone:
 * the shipped copy (CloudTrail Lake or CloudWatch Logs) holds the original
 * chain (docs/audit.md).
 */

import type { StatementSync } from "node:sqlite";
import type { Database } from "./database.ts";
import { sha256HexSync } from "./_sha256.ts";

/** Who acted. */
export interface AuditActor {
  /** "user" (a session), "token" (an API token), "cloud" (shadow, jobs), "agent", "cli", "device" (the maker's app). */
  type: "user" | "token" | "cloud" | "agent" | "cli" | "device";
  /** User name, token name, thing name… */
  id: string;
}

/** One stored audit event. */
export interface AuditEvent {
  /** Unique id (`^[-_A-Za-z0-9]+$`, 26 characters: a ULID). */
  id: string;
  /** Position in the chain, from 1, without gaps. */
  seq: number;
  /** ISO 8601 time. */
  time: string;
  actor: AuditActor;
  /** Where it came from: the client's IP address, "cli", "agent", "cloud". */
  source: string;
  /** What happened, dotted: "auth.login", "user.update", "config.reload"… */
  action: string;
  /** What it was done to ("user:alice", "model:Door/d1", "shadow:config"). */
  target?: string;
  outcome: "success" | "failure" | "denied";
  /** More, with secrets redacted. */
  details?: Record<string, unknown>;
  /** Device id. */
  device: string;
  /** SHA-256 (hex) of the previous event's data. */
  prev: string;
}

/** A stored row: the event and its hash. */
export interface AuditRow {
  event: AuditEvent;
  data: string;
  hash: string;
}

/** What `append` takes (the chain adds `seq` and `prev`). */
export type AuditInput = Omit<AuditEvent, "seq" | "prev">;

/** The outcome of `verify`. */
export interface AuditVerdict {
  ok: boolean;
  /** Events checked. */
  checked: number;
  /** Last seq checked. */
  lastSeq: number;
  /** The first broken link. */
  broken?: { seq: number; id: string | null; reason: string };
}

/** Filters of `list`. */
export interface AuditFilter {
  /** ms since the epoch, inclusive. */
  since?: number;
  /** ms since the epoch, exclusive. */
  until?: number;
  /** Exact action, or a prefix ending in "." ("auth."). */
  action?: string;
  /** `type:id` or `type`. */
  actor?: string;
  outcome?: string;
  /** Events with seq greater than this (paging). */
  after?: number;
  /** @default 100 */
  limit?: number;
  /** Newest first. @default false */
  reverse?: boolean;
}

export const GENESIS = "0".repeat(64);

const DDL = `
CREATE TABLE IF NOT EXISTS _audit (
  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, time INTEGER NOT NULL,
  action TEXT NOT NULL, actor TEXT NOT NULL, outcome TEXT NOT NULL,
  data TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS _audit_time ON _audit (time);
`;

type _Link = { seq: number; hash: string };

/** The audit chain of one database. */
export class AuditLog {
  readonly db: Database;
  readonly #hasTable: boolean;
  readonly #stmts = new Map<string, StatementSync>();

  /** Open the chain; `create: false` (readers in another process) leaves a database without one untouched. */
  constructor(db: Database, options: { create?: boolean } = {}) {
    this.db = db;
    if (options.create === false) {
      this.#hasTable = !!this.#q(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_audit'",
      ).get();
    } else {
      db.transaction(() => db.sql.exec(DDL));
      this.#hasTable = true;
    }
  }

  /**
   * Append one event to the chain (inside the caller's transaction when
   * there is one, else in its own), and return it with its seq and prev.
   */
  append(input: AuditInput): AuditRow {
    return this.db.transaction(() => {
      const last = this.#last() ?? this.#meta("audit.anchor") ?? { seq: 0, hash: GENESIS };
      const event: AuditEvent = { ...input, seq: last.seq + 1, prev: last.hash };
      const { id, seq, time, action, actor, outcome } = event;
      const data = JSON.stringify(_ordered(event));
      const hash = sha256HexSync(data);
      this.#q(
        "INSERT INTO _audit (seq, id, time, action, actor, outcome, data, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      ).run(seq, id, Date.parse(time), action, `${actor.type}:${actor.id}`, outcome, data, hash);
      this.#setMeta("audit.head", { seq, hash });
      return { event, data, hash };
    });
  }

  /** Check the whole chain; stops at the first broken link. */
  verify(): AuditVerdict {
    if (!this.#hasTable) return { ok: true, checked: 0, lastSeq: 0 };
    let prev = this.#meta("audit.anchor") ?? { seq: 0, hash: GENESIS };
    let checked = 0;
    const stmt = this.#q(
      "SELECT seq, id, time, action, actor, outcome, data, hash FROM _audit ORDER BY seq",
    );
    const broken = (seq: number, id: string | null, reason: string): AuditVerdict => ({
      ok: false,
      checked,
      lastSeq: prev.seq,
      broken: { seq, id, reason },
    });
    for (const r of stmt.iterate() as Iterable<Record<string, string | number>>) {
      const seq = Number(r.seq);
      const id = String(r.id);
      const data = String(r.data);
      if (seq !== prev.seq + 1) {
        return broken(
          seq,
          id,
          seq > prev.seq + 1
            ? `events ${prev.seq + 1}–${seq - 1} are missing (deleted)`
            : `seq ${seq} follows ${prev.seq}`,
        );
      }
      if (sha256HexSync(data) !== r.hash) {
        return broken(seq, id, "its data does not match its hash (edited)");
      }
      let e: AuditEvent;
      try {
        e = JSON.parse(data) as AuditEvent;
      } catch {
        return broken(seq, id, "its data is not JSON");
      }
      if (e.prev !== prev.hash) {
        return broken(
          seq,
          id,
          "its prev is not the hash of the event before it (edited, deleted or reordered)",
        );
      }
      if (
        e.seq !== seq || e.id !== id || Date.parse(e.time) !== Number(r.time) ||
        e.action !== r.action || `${e.actor?.type}:${e.actor?.id}` !== r.actor ||
        e.outcome !== r.outcome
      ) return broken(seq, id, "its columns disagree with its data (edited or reordered)");
      prev = { seq, hash: String(r.hash) };
      checked++;
    }
    const head = this.#meta("audit.head");
    if (head && (head.seq !== prev.seq || head.hash !== prev.hash)) {
      return broken(
        head.seq > prev.seq ? prev.seq + 1 : head.seq,
        null,
        head.seq > prev.seq
          ? `the newest events up to ${head.seq} are missing (deleted)`
          : "the chain's head does not match the newest event",
      );
    }
    return { ok: true, checked, lastSeq: prev.seq };
  }

  /** Events matching `filter`, by seq. */
  list(filter: AuditFilter = {}): AuditEvent[] {
    if (!this.#hasTable) return [];
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.since !== undefined) where.push("time >= ?") && params.push(filter.since);
    if (filter.until !== undefined) where.push("time < ?") && params.push(filter.until);
    if (filter.after !== undefined) {
      where.push(filter.reverse ? "seq < ?" : "seq > ?") && params.push(filter.after);
    }
    if (filter.action) {
      if (filter.action.endsWith(".")) {
        where.push("substr(action, 1, ?) = ?") && params.push(filter.action.length, filter.action);
      } else where.push("action = ?") && params.push(filter.action);
    }
    if (filter.actor) {
      if (filter.actor.includes(":")) where.push("actor = ?") && params.push(filter.actor);
      else {
        where.push("substr(actor, 1, ?) = ?") &&
          params.push(filter.actor.length + 1, `${filter.actor}:`);
      }
    }
    if (filter.outcome) where.push("outcome = ?") && params.push(filter.outcome);
    const limit = filter.limit ?? 100;
    const rows = this.#q(
      `SELECT data FROM _audit ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ` +
        `ORDER BY seq ${filter.reverse ? "DESC" : ""} LIMIT ?`,
    ).all(...params, limit) as { data: string }[];
    return rows.map((r) => JSON.parse(r.data) as AuditEvent);
  }

  /** Events stored, and the seq range. */
  stats(): { count: number; first: number; last: number } {
    if (!this.#hasTable) return { count: 0, first: 0, last: 0 };
    const r = this.#q(
      "SELECT count(*) AS n, coalesce(min(seq), 0) AS a, coalesce(max(seq), 0) AS b FROM _audit",
    ).get() as { n: number; a: number; b: number };
    return { count: Number(r.n), first: Number(r.a), last: Number(r.b) };
  }

  /**
   * Delete the oldest events beyond `maxEvents` or older than `before` (ms),
   * but none at or after seq `keepFrom` (not yet shipped). The anchor moves
   * to the last event deleted, so the chain still verifies. Returns how
   * many went and how many more the bounds wanted gone but were kept.
   */
  prune(bounds: { maxEvents: number; before: number; keepFrom: number }): {
    pruned: number;
    held: number;
  } {
    if (!this.#hasTable) return { pruned: 0, held: 0 };
    return this.db.transaction(() => {
      const { count, first, last } = this.stats();
      if (count === 0) return { pruned: 0, held: 0 };
      const byCount = count > bounds.maxEvents ? last - bounds.maxEvents : first - 1;
      const old = this.#q("SELECT max(seq) AS s FROM _audit WHERE time < ?").get(
        bounds.before,
      ) as { s: number | null };
      const want = Math.max(byCount, Number(old.s ?? 0));
      if (want < first) return { pruned: 0, held: 0 };
      const upTo = Math.min(want, bounds.keepFrom - 1);
      const held = want - Math.max(upTo, first - 1);
      if (upTo < first) return { pruned: 0, held };
      const anchor = this.#q("SELECT seq, hash FROM _audit WHERE seq = ?").get(
        upTo,
      ) as _Link | undefined;
      if (!anchor) return { pruned: 0, held };
      const r = this.#q("DELETE FROM _audit WHERE seq <= ?").run(upTo);
      this.#setMeta("audit.anchor", { seq: Number(anchor.seq), hash: String(anchor.hash) });
      return { pruned: Number(r.changes), held };
    });
  }

  /** A prepared statement, cached (finalized with the database). */
  #q(sql: string): StatementSync {
    let s = this.#stmts.get(sql);
    if (!s) this.#stmts.set(sql, s = this.db.sql.prepare(sql));
    return s;
  }

  #last(): _Link | undefined {
    const r = this.#q("SELECT seq, hash FROM _audit ORDER BY seq DESC LIMIT 1").get() as
      | _Link
      | undefined;
    return r ? { seq: Number(r.seq), hash: String(r.hash) } : undefined;
  }

  #meta(key: string): _Link | undefined {
    const r = this.#q("SELECT value FROM _meta WHERE key = ?").get(key) as
      | { value: string }
      | undefined;
    if (!r) return undefined;
    try {
      const v = JSON.parse(r.value) as _Link;
      return { seq: Number(v.seq), hash: String(v.hash) };
    } catch {
      return { seq: -1, hash: "" };
    }
  }

  #setMeta(key: string, v: _Link): void {
    this.#q("INSERT OR REPLACE INTO _meta (key, value) VALUES (?, ?)").run(
      key,
      JSON.stringify(v),
    );
  }
}

/** The event's fields in the documented order (the hashed text is stable and readable). */
function _ordered(e: AuditEvent): AuditEvent {
  const out: Record<string, unknown> = {
    id: e.id,
    seq: e.seq,
    time: e.time,
    actor: { type: e.actor.type, id: e.actor.id },
    source: e.source,
    action: e.action,
  };
  if (e.target !== undefined) out.target = e.target;
  out.outcome = e.outcome;
  if (e.details !== undefined) out.details = e.details;
  out.device = e.device;
  out.prev = e.prev;
  return out as unknown as AuditEvent;
}
