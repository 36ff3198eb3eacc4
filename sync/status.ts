/**
 * Sync status, readable from the agent (`/api/status`, metrics) and from a
 * separate process (`tern sync status`): pending local changes per model,
 * cursors, last success and last error of each direction, conflict total.
 * Everything but the in-memory counters comes from sync's tables.
 */

import type { Database } from "../lib/db/mod.ts";
import type { ConflictRecord } from "./conflict.ts";
import type { SyncCounters } from "./_context.ts";
import type { SyncedModel } from "./plan.ts";
import { type SyncState, UP_CURSOR } from "./_state.ts";

export interface DirectionStatus {
  /** ISO time of the last successful pass. */
  lastSuccess?: string;
  /** The last failure (it may be older than the last success). */
  lastError?: { at: string; message: string };
}

export interface SyncStatus {
  models: { name: string; direction: string; table: string; conflict: string; backlog: number }[];
  /** Local changes of synced models waiting to be sent. */
  backlog: number;
  cursors: { up: number; down: Record<string, string> };
  up: DirectionStatus;
  down: DirectionStatus;
  /** Conflicts since the database was created. */
  conflicts: number;
  /** Counters since the engine started (absent from `tern sync status`). */
  counters?: SyncCounters;
  recentConflicts?: ConflictRecord[];
}

/** Read the persisted status. */
export function readStatus(
  db: Database,
  state: SyncState,
  plan: Map<string, SyncedModel>,
): SyncStatus {
  const up = db.cursor(UP_CURSOR).get();
  const pending = state.backlog(up);
  const models = [...plan.values()].map((m) => ({
    name: m.name,
    direction: m.direction,
    table: m.table,
    conflict: m.conflict,
    backlog: m.direction === "down" ? 0 : pending[m.name] ?? 0,
  }));
  const dir = (d: "up" | "down"): DirectionStatus => {
    const out: DirectionStatus = {};
    const ok = state.get(`last:${d}:success`);
    if (ok) out.lastSuccess = ok;
    const err = state.get(`last:${d}:error`);
    if (err) out.lastError = JSON.parse(err);
    return out;
  };
  return {
    models,
    backlog: models.reduce((n, m) => n + m.backlog, 0),
    cursors: {
      up,
      down: Object.fromEntries(state.entries("down:").map(([k, v]) => [k.slice(5), v])),
    },
    up: dir("up"),
    down: dir("down"),
    conflicts: Number(state.get("conflicts") ?? "0"),
  };
}
