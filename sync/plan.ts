/**
 * Which models replicate, how and where: read from each model's `sync` and
 * `table` in schema.json5, with the `sync` section's defaults (table,
 * conflict policy, per-model overrides). System models never sync.
 */

import type { ConflictPolicy, SyncConfig } from "../lib/config/mod.ts";
import type { Database, Model } from "../lib/db/mod.ts";

/** One synced model. */
export interface SyncedModel {
  name: string;
  model: Model;
  direction: "up" | "down" | "both";
  table: string;
  conflict: ConflictPolicy;
}

/** The synced models of a database, by name. */
export function planModels(db: Database, config: SyncConfig): Map<string, SyncedModel> {
  const out = new Map<string, SyncedModel>();
  for (const model of db.models()) {
    const direction = model.def.sync;
    if (model.name.startsWith("_") || direction === "none") continue;
    out.set(model.name, {
      name: model.name,
      model,
      direction,
      table: model.def.table ?? config.table,
      conflict: config.models[model.name]?.conflict ?? config.conflict,
    });
  }
  for (const name of Object.keys(config.models)) {
    if (!out.has(name)) {
      throw new TypeError(
        `sync.models.${name}: the schema has no synced model "${name}"`,
      );
    }
  }
  return out;
}

/** Models sending changes up. */
export function upModels(plan: Map<string, SyncedModel>): SyncedModel[] {
  return [...plan.values()].filter((m) => m.direction === "up" || m.direction === "both");
}

/** Tables read by down-sync, with the models each one feeds. */
export function downTables(plan: Map<string, SyncedModel>): Map<string, SyncedModel[]> {
  const out = new Map<string, SyncedModel[]>();
  for (const m of plan.values()) {
    if (m.direction !== "down" && m.direction !== "both") continue;
    const list = out.get(m.table) ?? [];
    list.push(m);
    out.set(m.table, list);
  }
  return out;
}
