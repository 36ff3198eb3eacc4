/**
 * Shared fixtures of the db tests: a temp database file with a schema and a
 * fake clock, removed on dispose.
 */

import { join } from "node:path";
import { FakeClock } from "../lib/clock.ts";
import { Database, type DatabaseOptions, type ModelInput } from "../lib/db/mod.ts";

export const READING: ModelInput = {
  pk: "Sensor#${deviceId}",
  sk: "Reading#${time}",
  fields: {
    deviceId: { type: "string", required: true },
    time: { type: "date", required: true },
    value: { type: "number", min: -50, max: 150 },
    unit: { type: "string", enum: ["C", "F"], default: "C" },
    id: { type: "string", generate: "ulid" },
    note: { type: "string", pattern: "[a-z ]*", max: 20 },
    secret: { type: "string", hidden: true },
    expires: { type: "date", ttl: true },
    tags: { type: "array", max: 3 },
    meta: { type: "object" },
    ok: { type: "boolean" },
  },
  indexes: { byValue: { sk: "${value}" } },
  sync: "up",
  table: "tern-readings",
};

export const SCHEMA: Record<string, ModelInput> = { Reading: READING };

/** A database in a fresh temp dir; `await using t = await tempDb()`. */
export async function tempDb(
  options: Partial<DatabaseOptions> = {},
): Promise<{ db: Database; clock: FakeClock; dir: string; path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "tern_db_" });
  const path = join(dir, "state", "tern.db");
  const clock = (options.clock as FakeClock | undefined) ?? new FakeClock(Date.UTC(2024, 4, 1));
  const db = Database.open({ path, schema: SCHEMA, clock, purgeInterval: 0, ...options });
  return {
    db,
    clock,
    dir,
    path,
    async [Symbol.asyncDispose]() {
      await db[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Expect `fn` to throw a DbError with this code; returns it. */
export function dbError(fn: () => unknown, code: string): Error & { code: string; field?: string } {
  try {
    fn();
  } catch (e) {
    const err = e as Error & { code: string; field?: string };
    if (err.name !== "DbError" || err.code !== code) {
      throw new Error(`Expected DbError ${code}, got ${err.name} ${err.code}: ${err.message}`);
    }
    return err;
  }
  throw new Error(`Expected DbError ${code}, nothing thrown`);
}
