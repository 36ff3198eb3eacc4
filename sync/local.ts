/**
 * The device side of an item for sync: its current stamp (the item, or a
 * pending local delete, or a synced tombstone), and applying a cloud item
 * with origin `cloud` — checked against the stored version inside one
 * SQLite transaction, so a newer local write is never overwritten.
 */

import { DbError, type Item, type RawKey } from "../lib/db/mod.ts";
import type { CloudItem } from "./cloud_item.ts";
import { sameStamp, type Stamp } from "./conflict.ts";
import type { SyncContext } from "./_context.ts";
import type { SyncedModel } from "./plan.ts";
import { UP_CURSOR } from "./_state.ts";

/** The device's current version of a key, and the item when it exists. */
export interface LocalState {
  stamp?: Stamp;
  item?: Item;
}

export function localState(ctx: SyncContext, m: SyncedModel, k: RawKey): LocalState {
  const item = ctx.db.get(m.name, { pk: k.pk, sk: k.sk });
  if (item) {
    return { stamp: { updated: item.updated, version: item._version, deleted: false }, item };
  }
  const since = ctx.db.cursor(UP_CURSOR).get();
  const pending = ctx.state.pendingDelete(since, m.name, k.pk, k.sk);
  if (pending) return { stamp: pending };
  const base = m.direction === "both" ? ctx.state.base(m.name, k.pk, k.sk) : undefined;
  return base?.deleted ? { stamp: base } : {};
}

/**
 * Write a cloud item on the device (origin `cloud`, keeping its created,
 * updated and _version), or delete for a tombstone; for "both" models record
 * the base. `expect`: only if the device still holds this stamp (else the
 * device changed meanwhile and nothing is written). Returns false when the
 * item does not fit the model (logged and counted).
 */
export function applyCloud(
  ctx: SyncContext,
  m: SyncedModel,
  c: CloudItem,
  expect?: { stamp?: Stamp },
): boolean {
  const { db } = ctx;
  const k = c.key;
  try {
    return db.transaction(() => {
      const current = db.get(m.name, { pk: k.pk, sk: k.sk });
      if (expect) {
        if (!sameStamp(localState(ctx, m, k).stamp, expect.stamp)) return true;
      }
      if (c.stamp.deleted || !c.item) {
        if (current) db.remove(m.name, { pk: k.pk, sk: k.sk }, { origin: "cloud" });
      } else {
        const fields: Record<string, unknown> = {};
        for (const [name, v] of Object.entries(c.item)) {
          if (name === "created" || name === "updated" || name === "_version") fields[name] = v;
          else if (m.model.field(name)) fields[name] = v;
        }
        const key = db.keyOf(m.name, fields);
        if (key.pk !== k.pk || key.sk !== k.sk) {
          throw new DbError(
            "validation",
            `Cloud item ${JSON.stringify(k)} of "${m.name}" has fields giving the key ${
              JSON.stringify(key)
            }`,
            { model: m.name },
          );
        }
        db.put(m.name, fields, { keepMeta: true, origin: "cloud" });
      }
      if (m.direction === "both") ctx.state.setBase(m.name, k.pk, k.sk, c.stamp);
      ctx.counters.received++;
      return true;
    });
  } catch (e) {
    if (!(e instanceof DbError) || e.code === "closed") throw e;
    ctx.counters.rejected++;
    ctx.log.error("Cloud item rejected: it does not fit its model", {
      model: m.name,
      pk: k.pk,
      sk: k.sk,
      error: e.message,
    });
    return false;
  }
}

/**
 * Re-stamp the device's item (same fields, next `_version`, `updated` now) so
 * it orders after a cloud version with the very same stamp; the new change is
 * sent by the next up pass. Used when the device wins a tie.
 */
export function touch(ctx: SyncContext, m: SyncedModel, item: Item): void {
  const fields: Record<string, unknown> = { ...item };
  delete fields.created;
  delete fields.updated;
  delete fields._version;
  ctx.db.put(m.name, fields, { ifVersion: item._version });
}
