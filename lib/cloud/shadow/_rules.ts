/**
 * The sync rules as pure transitions of a shadow's stored row (store.ts):
 * what is pending, what an accepted or refused update does to `base`, how a
 * cloud document is merged in (three ways: reported prefers the device,
 * desired the cloud), and what a delete in the cloud leaves. The `Shadow`
 * class applies them and persists the result.
 */

import { apply, diff, isObject, merge3, type State } from "./merge.ts";
import type { ShadowRow } from "../../db/shadow_store.ts";
import type { ShadowDirection } from "./_types.ts";

/** What goes to the cloud: `diff(base, local)` per section (reported only for deviceToCloud, nothing for cloudToDevice). */
export interface Pending {
  desired?: State;
  reported?: State;
}

export function pendingOf(row: ShadowRow, direction: ShadowDirection): Pending {
  if (direction === "cloudToDevice") return {};
  // deviceToCloud: desired is the cloud's business only; the device never sends it.
  const d = direction === "deviceToCloud" ? {} : diff(row.base.desired, row.desired);
  const r = diff(row.base.reported, row.reported);
  return {
    ...(Object.keys(d).length ? { desired: d } : {}),
    ...(Object.keys(r).length ? { reported: r } : {}),
  };
}

/** `base` with a sent patch applied (the cloud accepted it, or refused it for good). */
export function withSent(row: ShadowRow, sent: Pending): ShadowRow {
  return {
    ...row,
    base: {
      desired: sent.desired ? apply(row.base.desired, sent.desired) : row.base.desired,
      reported: sent.reported ? apply(row.base.reported, sent.reported) : row.base.reported,
    },
  };
}

/**
 * After `update/accepted` at version `v` for `sent`: `base` moves on. When
 * the update had no version, or the cloud skipped one, other changes may
 * have landed too: `needGet`.
 */
export function afterAccepted(
  row: ShadowRow,
  sent: Pending,
  v: number,
  conditional: boolean,
  now: number,
): { row: ShadowRow; needGet: boolean } {
  // The update/documents echo got here first and was merged already.
  if (v <= row.version) return { row: { ...row, synced: now }, needGet: false };
  const gap = conditional ? v !== row.version + 1 : true;
  return {
    row: { ...withSent(row, sent), version: v, exists: true, synced: now },
    needGet: gap && row.exists && row.version > 0,
  };
}

/** The cloud document `state` at version `v` merged into the local copy. */
export function merged(
  row: ShadowRow,
  state: State,
  v: number,
  direction: ShadowDirection,
  now: number,
): ShadowRow {
  const cloud = {
    desired: isObject(state.desired) ? apply({}, state.desired) : {},
    reported: isObject(state.reported) ? apply({}, state.reported) : {},
  };
  return {
    desired: direction === "deviceToCloud"
      ? row.desired
      : merge3(row.base.desired, row.desired, cloud.desired, "cloud"),
    reported: merge3(row.base.reported, row.reported, cloud.reported, "local"),
    base: cloud,
    version: Number.isSafeInteger(v) ? v : row.version,
    exists: true,
    synced: now,
  };
}

/** After a delete in the cloud: keep reported to recreate it, or clear the copy. */
export function afterDelete(row: ShadowRow, recreate: boolean): ShadowRow {
  const empty = { desired: {}, reported: {} };
  return recreate
    ? { ...row, desired: {}, base: empty, version: 0, exists: false }
    : { ...empty, base: empty, version: 0, exists: false, synced: row.synced };
}
