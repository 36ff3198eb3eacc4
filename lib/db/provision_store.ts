/**
 * The state of the provisioning and rotation flows, in the agent's SQLite
 * file (table `_provision`, one row per key):
 *
 * | key    | value (JSON)                                                          |
 * |--------|-----------------------------------------------------------------------|
 * | flow   | the flow under way: purpose, step, certificate id and PEM, ownership  |
 * |        | token and when it was issued, thing name, attempts (see `FlowState`)  |
 * | result | the last finished attempt: outcome, time, error (see `FlowResult`)     |
 *
 * Each write is one statement, committed before the next step starts, so a
 * power cut resumes at the last recorded step. The private keys are never
 * here: they are files (0600) in the identity directory. The ownership token
 * is a secret too: it is never logged and is dropped once used or lapsed.
 * It lives with the database's other agent tables (lib/db); the flows
 * (lib/cloud/provision) use it.
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";

/** Steps in order: a key on disk, a certificate from the cloud, the thing registered, then the switch. */
export type FlowStep = "key" | "certificate" | "registered" | "switch";

export interface FlowState {
  purpose: "claim" | "rotate";
  step: FlowStep;
  /** ms since epoch the flow started. */
  startedAt: number;
  /** File name (in the identity dir) of the new private key. */
  keyFile: string;
  certificateId?: string;
  certificatePem?: string;
  /** The ownership token (secret; 1 h life from `tokenAt`). */
  token?: string;
  /** ms since epoch the token was issued. */
  tokenAt?: number;
  thingName?: string;
}

export interface FlowResult {
  purpose: "claim" | "rotate" | "install";
  outcome: "success" | "failure" | "rolledBack";
  /** ms since epoch. */
  at: number;
  certificateId?: string;
  error?: { statusCode?: number; errorCode?: string; errorMessage: string };
}

const CREATE = `CREATE TABLE IF NOT EXISTS _provision (
  key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`;

export class ProvisionStore {
  readonly #get: StatementSync;
  readonly #put: StatementSync;
  readonly #del: StatementSync;

  constructor(db: DatabaseSync) {
    db.exec(CREATE);
    this.#get = db.prepare(`SELECT value FROM _provision WHERE key = ?`);
    this.#put = db.prepare(`INSERT OR REPLACE INTO _provision (key, value) VALUES (?, ?)`);
    this.#del = db.prepare(`DELETE FROM _provision WHERE key = ?`);
  }

  #read<T>(key: string): T | undefined {
    const r = this.#get.get(key) as { value: string } | undefined;
    return r ? JSON.parse(r.value) as T : undefined;
  }

  /** The flow under way, if any. */
  flow(): FlowState | undefined {
    return this.#read<FlowState>("flow");
  }

  saveFlow(flow: FlowState): void {
    this.#put.run("flow", JSON.stringify(flow));
  }

  clearFlow(): void {
    this.#del.run("flow");
  }

  /** The last finished attempt. */
  result(): FlowResult | undefined {
    return this.#read<FlowResult>("result");
  }

  saveResult(result: FlowResult): void {
    this.#put.run("result", JSON.stringify(result));
  }
}
