/**
 * The over-the-air update jobs (lib/cloud/update), in the agent's SQLite
 * file (table `_update`, one row per IoT job execution), so every step
 * survives a restart or a power cut:
 *
 * | column   | meaning                                                                |
 * |----------|------------------------------------------------------------------------|
 * | job_id   | the IoT job id                                                         |
 * | doc      | JSON: the job document as received                                     |
 * | exec_ver | the execution's `versionNumber` last seen (the next `expectedVersion`) |
 * | phase    | received, downloading, downloaded, verified, staged, kept, marked,     |
 * |          | swapped, succeeded, failed, canceled (docs/update.md)                  |
 * | bytes    | bytes of the download on disk (progress)                               |
 * | reason   | why it failed or was canceled                                          |
 * | report   | JSON `{status, details}` still to be sent to Jobs, or NULL             |
 * | started  | ms since epoch when the device took the job                            |
 * | updated  | ms since epoch of the last change                                      |
 *
 * Each change is one statement, committed before the step it records is
 * taken as done.
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";

/** Where an update job is. Terminal: succeeded, failed, canceled. */
export type UpdatePhase =
  | "received"
  | "downloading"
  | "downloaded"
  | "verified"
  | "staged"
  | "kept"
  | "marked"
  | "swapped"
  | "succeeded"
  | "failed"
  | "canceled";

export const TERMINAL_PHASES: readonly UpdatePhase[] = ["succeeded", "failed", "canceled"];

/** A status update still owed to the Jobs service. */
export interface PendingReport {
  status: "IN_PROGRESS" | "SUCCEEDED" | "FAILED" | "REJECTED";
  details: Record<string, string>;
}

export interface UpdateRow {
  jobId: string;
  doc: Record<string, unknown>;
  execVersion: number;
  phase: UpdatePhase;
  bytes: number;
  reason: string | null;
  report: PendingReport | null;
  started: number;
  updated: number;
}

const CREATE = `CREATE TABLE IF NOT EXISTS _update (
  job_id TEXT PRIMARY KEY, doc TEXT NOT NULL, exec_ver INTEGER NOT NULL,
  phase TEXT NOT NULL, bytes INTEGER NOT NULL DEFAULT 0, reason TEXT, report TEXT,
  started INTEGER NOT NULL, updated INTEGER NOT NULL) WITHOUT ROWID`;

type _Raw = Record<string, string | number | null>;

function _row(r: _Raw): UpdateRow {
  return {
    jobId: String(r.job_id),
    doc: JSON.parse(String(r.doc)),
    execVersion: Number(r.exec_ver),
    phase: r.phase as UpdatePhase,
    bytes: Number(r.bytes),
    reason: r.reason === null ? null : String(r.reason),
    report: r.report === null ? null : JSON.parse(String(r.report)),
    started: Number(r.started),
    updated: Number(r.updated),
  };
}

export class UpdateStore {
  readonly #get: StatementSync;
  readonly #active: StatementSync;
  readonly #owed: StatementSync;
  readonly #recent: StatementSync;
  readonly #insert: StatementSync;
  readonly #set: StatementSync;
  readonly #bytes: StatementSync;
  readonly #ver: StatementSync;

  constructor(db: DatabaseSync) {
    db.exec(CREATE);
    const cols = "job_id, doc, exec_ver, phase, bytes, reason, report, started, updated";
    this.#get = db.prepare(`SELECT ${cols} FROM _update WHERE job_id = ?`);
    this.#active = db.prepare(
      `SELECT ${cols} FROM _update WHERE phase NOT IN ('succeeded','failed','canceled')
       ORDER BY started LIMIT 1`,
    );
    this.#owed = db.prepare(
      `SELECT ${cols} FROM _update WHERE report IS NOT NULL ORDER BY updated`,
    );
    this.#recent = db.prepare(`SELECT ${cols} FROM _update ORDER BY updated DESC LIMIT ?`);
    this.#insert = db.prepare(
      `INSERT OR IGNORE INTO _update (job_id, doc, exec_ver, phase, bytes, started, updated)
       VALUES (?, ?, ?, 'received', 0, ?, ?)`,
    );
    this.#set = db.prepare(
      `UPDATE _update SET phase = ?, reason = ?, report = ?, updated = ? WHERE job_id = ?`,
    );
    this.#bytes = db.prepare(`UPDATE _update SET bytes = ?, updated = ? WHERE job_id = ?`);
    this.#ver = db.prepare(`UPDATE _update SET exec_ver = ? WHERE job_id = ?`);
  }

  get(jobId: string): UpdateRow | undefined {
    const r = this.#get.get(jobId) as _Raw | undefined;
    return r ? _row(r) : undefined;
  }

  /** The job being worked on (not terminal), if any. */
  active(): UpdateRow | undefined {
    const r = this.#active.get() as _Raw | undefined;
    return r ? _row(r) : undefined;
  }

  /** Jobs with a status update still to send. */
  owed(): UpdateRow[] {
    return (this.#owed.all() as _Raw[]).map(_row);
  }

  recent(limit = 10): UpdateRow[] {
    return (this.#recent.all(limit) as _Raw[]).map(_row);
  }

  /** Record a job the device took; false when it is already known. */
  add(jobId: string, doc: Record<string, unknown>, execVersion: number, now: number): boolean {
    return Number(this.#insert.run(jobId, JSON.stringify(doc), execVersion, now, now).changes) > 0;
  }

  /** Move a job to `phase`, with a reason and the report owed to Jobs (null: none). */
  set(
    jobId: string,
    phase: UpdatePhase,
    now: number,
    extra: { reason?: string | null; report?: PendingReport | null } = {},
  ): void {
    const cur = this.get(jobId);
    const reason = extra.reason !== undefined ? extra.reason : cur?.reason ?? null;
    const report = extra.report !== undefined ? extra.report : cur?.report ?? null;
    this.#set.run(phase, reason, report ? JSON.stringify(report) : null, now, jobId);
  }

  /** Clear the owed report once Jobs accepted it (or refused it for good). */
  reported(jobId: string, now: number): void {
    const cur = this.get(jobId);
    if (cur) this.set(jobId, cur.phase, now, { report: null });
  }

  progress(jobId: string, bytes: number, now: number): void {
    this.#bytes.run(bytes, now, jobId);
  }

  execVersion(jobId: string, version: number): void {
    this.#ver.run(version, jobId);
  }
}
