/**
 * The cloud item format. A local item maps one to one — same `pk` and `sk`
 * (a model without a sort key uses sk "_" in the cloud: DynamoDB keys cannot
 * be empty), same attribute names and types — plus:
 *
 * | attribute  | type | meaning |
 * |------------|------|---------|
 * | `created`, `updated` | S | ISO 8601 UTC, as on the device |
 * | `_version` | N | write counter of the item |
 * | `_model`   | S | model name |
 * | `_device`  | S | id of the device that wrote it (absent when a cloud app did) |
 * | `_to`      | S | who receives it on down-sync: a device id, or "*" for every device; set by cloud applications only |
 * | `_deleted` | BOOL | a tombstone: the item was deleted at `updated` |
 * | `_expires` | N | TTL (epoch seconds) of tombstones |
 *
 * Down-sync queries the index `_to` + `updated` (default name "tern-down").
 */

import type { Item, RawKey } from "../lib/db/mod.ts";
import { type AttributeMap, fromAttributes, toAttribute, toAttributes } from "./_marshal.ts";
import type { Stamp } from "./conflict.ts";
import type { SyncedModel } from "./plan.ts";

/** Cloud sort key of a model without one. */
export const NO_SK = "_";

/** Attributes sync adds to the model's fields. */
export const SYNC_ATTRIBUTES = [
  "pk",
  "sk",
  "created",
  "updated",
  "_version",
  "_model",
  "_device",
  "_to",
  "_deleted",
  "_expires",
] as const;

/** A cloud item read back. */
export interface CloudItem {
  model: string;
  key: RawKey;
  stamp: Stamp;
  /** The model's fields plus created/updated/_version (absent for tombstones). */
  item?: Record<string, unknown>;
  to?: string;
  device?: string;
}

/** The cloud key of a local key. */
export function cloudKey(k: RawKey): AttributeMap {
  return { pk: { S: k.pk }, sk: { S: k.sk === "" ? NO_SK : k.sk } };
}

/**
 * A local item as a cloud item. Devices never write `_to` (the IAM policy of
 * the template denies it, so no device can address items to others).
 */
export function toCloudItem(
  m: SyncedModel,
  k: RawKey,
  item: Item,
  deviceId: string,
): AttributeMap {
  const attrs = toAttributes(item);
  Object.assign(attrs, cloudKey(k));
  attrs._model = { S: m.name };
  attrs._device = { S: deviceId };
  return attrs;
}

/** A tombstone for a deleted item, expiring after `ttlMs`. */
export function toTombstone(
  m: SyncedModel,
  k: RawKey,
  stamp: Stamp,
  deviceId: string,
  nowMs: number,
  ttlMs: number,
): AttributeMap {
  const attrs: AttributeMap = {
    ...cloudKey(k),
    updated: { S: stamp.updated },
    _version: { N: String(stamp.version) },
    _model: { S: m.name },
    _device: { S: deviceId },
    _deleted: { BOOL: true },
    _expires: toAttribute(Math.floor((nowMs + ttlMs) / 1000)),
  };
  return attrs;
}

/** Read a cloud item; undefined when it lacks the sync attributes. */
export function fromCloudItem(attrs: AttributeMap): CloudItem | undefined {
  const raw = fromAttributes(attrs);
  const { pk, sk, updated, _version, _model } = raw;
  if (typeof pk !== "string" || typeof sk !== "string" || typeof _model !== "string") {
    return undefined;
  }
  if (typeof updated !== "string" || Number.isNaN(Date.parse(updated))) return undefined;
  const version = typeof _version === "number" && _version >= 1 ? _version : 1;
  const deleted = raw._deleted === true;
  const out: CloudItem = {
    model: _model,
    key: { pk, sk: sk === NO_SK ? "" : sk },
    stamp: { updated: new Date(updated).toISOString(), version, deleted },
  };
  if (typeof raw._to === "string") out.to = raw._to;
  if (typeof raw._device === "string") out.device = raw._device;
  if (!deleted) {
    const item: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(raw)) {
      if (!(SYNC_ATTRIBUTES as readonly string[]).includes(k)) item[k] = v;
    }
    item.created = typeof raw.created === "string" ? raw.created : out.stamp.updated;
    item.updated = out.stamp.updated;
    item._version = version;
    out.item = item;
  }
  return out;
}
