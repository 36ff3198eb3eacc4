/**
 * The `database` section (tern.json5) and the `schema` section (schema.json5):
 * where the embedded database lives and the models it holds.
 *
 * ```json5
 * database: { path: "tern.db", synchronous: "NORMAL" },   // path relative to the state dir
 * ```
 */

import { z } from "zod";
import { dirname, resolve } from "node:path";
import type { PathBase, PermissionNeeds } from "./_types.ts";

export const databaseSection = z.strictObject({
  enabled: z.boolean().default(true),
  /** SQLite file; relative to the state directory. */
  path: z.string().min(1).default("tern.db"),
  /** "NORMAL" (WAL: durable at checkpoint, fast) or "FULL" (fsync every commit). */
  synchronous: z.enum(["NORMAL", "FULL"]).default("NORMAL"),
}).prefault({});

export type DatabaseConfig = z.infer<typeof databaseSection>;

/** The models (schema.json5). Validated in depth by lib/db. */
export const schemaSection = z.strictObject({
  models: z.record(z.string(), z.unknown()).default({}),
}).prefault({});

export type SchemaConfig = z.infer<typeof schemaSection>;

export function databasePermissions(db: DatabaseConfig, base: PathBase): Partial<PermissionNeeds> {
  if (!db.enabled) return {};
  const file = resolve(base.stateDir, db.path);
  return { read: [dirname(file)], write: [dirname(file)] };
}
