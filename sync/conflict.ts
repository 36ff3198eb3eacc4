/**
 * Versions and conflict resolution, the same on both sides.
 *
 * A stamp is what orders two versions of an item: `updated` (ISO 8601 UTC)
 * then `_version`. A conflict is an item changed on the device and in the
 * cloud since the last exchange (see `_sync_base` in `_state.ts`). Policies:
 *
 * - `lww` (default): the later `updated` wins; equal times: the higher
 *   `_version` wins; equal again: the cloud wins (every device then converges
 *   on the cloud copy).
 * - `device-wins`: the device's version is written over the cloud's.
 * - `cloud-wins`: the cloud's version replaces the device's.
 *
 * A delete is a version too (a tombstone with its own stamp), so "delete
 * versus update" resolves by the same rule.
 */

import type { ConflictPolicy } from "../lib/config/mod.ts";

/** The version of one side of an item. */
export interface Stamp {
  /** ISO 8601 time of the write. */
  updated: string;
  version: number;
  /** A tombstone: the item was deleted. */
  deleted: boolean;
}

/** One logged conflict (kept in `status().conflicts.recent`). */
export interface ConflictRecord {
  model: string;
  pk: string;
  sk: string;
  policy: ConflictPolicy;
  device: Stamp | null;
  cloud: Stamp | null;
  winner: "device" | "cloud";
  /** ms since epoch. */
  at: number;
}

function _time(s: string): number {
  const t = Date.parse(s);
  return Number.isNaN(t) ? 0 : t;
}

/** < 0 when a is older than b, > 0 when newer, 0 when the same stamp. */
export function compareStamps(a: Stamp, b: Stamp): number {
  const d = _time(a.updated) - _time(b.updated);
  if (d !== 0) return d;
  return a.version - b.version;
}

/** Whether two stamps denote the same version (both absent counts as same). */
export function sameStamp(a: Stamp | undefined, b: Stamp | undefined): boolean {
  if (!a || !b) return a === b;
  return compareStamps(a, b) === 0 && a.deleted === b.deleted;
}

/** Which side wins a conflict. */
export function resolveConflict(
  policy: ConflictPolicy,
  device: Stamp | undefined,
  cloud: Stamp | undefined,
): "device" | "cloud" {
  if (policy === "device-wins") return "device";
  if (policy === "cloud-wins") return "cloud";
  if (!device) return "cloud";
  if (!cloud) return "device";
  return compareStamps(device, cloud) > 0 ? "device" : "cloud";
}
