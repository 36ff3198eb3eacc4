/**
 * Shared set-up of the sync tests: a schema with one model per direction,
 * an agent side (database file + engine) that can be closed and reopened on
 * the same file, a "cloud application" that writes items the documented way,
 * and a driver that advances a FakeClock until a promise settles.
 */

import { join } from "node:path";
import { type DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { type Clock, FakeClock } from "../lib/clock.ts";
import { syncSection } from "../lib/config/mod.ts";
import { Database, type ModelInput } from "../lib/db/mod.ts";
import type { Logger } from "../lib/log/mod.ts";
import { createDynamoClient, SyncEngine } from "../sync/mod.ts";
import type { Dynalite } from "./helpers/dynalite.ts";
import { plainItem, sdkItem } from "./helpers/sdk_items.ts";

export const TABLE = "tern-data";

/** The tests' fake-clock epoch. */
export const T0 = Date.parse("2026-01-01T00:00:00Z");

/** ms since the epoch as ISO 8601 UTC text. */
export const iso = (ms: number): string => new Date(ms).toISOString();

/** Static AWS credentials of the config the tests give an agent (the emulators accept any). */
export const TEST_CREDENTIALS = {
  accessKeyId: "AKIDEXAMPLE00000",
  secretAccessKey: "secretsecretsecret",
};

export const SCHEMA: Record<string, ModelInput> = {
  Reading: {
    pk: "Sensor#${deviceId}",
    sk: "Reading#${time}",
    fields: {
      deviceId: { type: "string", required: true },
      time: { type: "date", required: true },
      value: { type: "number" },
    },
    sync: "up",
  },
  Setting: {
    pk: "Device#${deviceId}",
    sk: "Setting#${name}",
    fields: {
      deviceId: { type: "string", required: true },
      name: { type: "string", required: true },
      value: { type: "string" },
    },
    sync: "both",
  },
  Notice: {
    pk: "Notice#${target}",
    sk: "${id}",
    fields: {
      target: { type: "string", required: true },
      id: { type: "string", required: true },
      text: { type: "string" },
    },
    sync: "down",
  },
  Local: {
    pk: "Local#${id}",
    fields: { id: { type: "string", required: true } },
  },
};

/** One device: its database and sync engine. */
export interface Agent extends AsyncDisposable {
  db: Database;
  engine: SyncEngine;
  deviceId: string;
  path: string;
  /** Close the engine and the database (an agent restart), then open them again. */
  restart(): Promise<Agent>;
  close(): Promise<void>;
}

export interface AgentOptions {
  dir: string;
  deviceId: string;
  ddb: Dynalite;
  clock?: Clock;
  /** Overrides of the sync section. */
  sync?: Record<string, unknown>;
  schema?: Record<string, ModelInput>;
  log?: Logger;
}

export function openAgent(o: AgentOptions): Agent {
  const path = join(o.dir, `${o.deviceId}.db`);
  const clock = o.clock ?? new FakeClock();
  const db = Database.open({ path, schema: o.schema ?? SCHEMA, clock, purgeInterval: 0 });
  const config = syncSection.parse({
    enabled: true,
    endpoint: o.ddb.endpoint,
    table: TABLE,
    backoff: { min: 10, max: 200 },
    ...o.sync,
  });
  const ddb = createDynamoClient({
    sync: config,
    credentials: () => Promise.resolve({ accessKeyId: "test", secretAccessKey: "test" }),
  });
  const engine = new SyncEngine({
    db,
    ddb,
    deviceId: o.deviceId,
    config,
    clock,
    ...(o.log ? { log: o.log } : {}),
  });
  const close = async () => {
    await engine[Symbol.asyncDispose]();
    await ddb[Symbol.asyncDispose]();
    db.close();
  };
  return {
    db,
    engine,
    deviceId: o.deviceId,
    path,
    async restart() {
      await close();
      return openAgent({ ...o, clock });
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Await `p` while advancing `clock` in steps (retries and backoff sleep on it). */
export async function drive<T>(clock: FakeClock, p: Promise<T>, stepMs = 1000): Promise<T> {
  let done = false;
  const settled = p.finally(() => done = true);
  settled.catch(() => {});
  for (let i = 0; i < 10_000 && !done; i++) {
    await clock.advance(stepMs);
    await new Promise((r) => setTimeout(r, 1));
  }
  return await settled;
}

/**
 * A cloud application writing an item for devices the documented way:
 * `_to` (a device id or "*"), `_model`, `updated` (ISO 8601 UTC) and
 * `_version`, plus the model's fields and its key.
 */
export async function cloudPut(
  client: DynamoDBClient,
  item: Record<string, unknown> & {
    pk: string;
    sk: string;
    _model: string;
    _to: string;
    updated: string;
    _version: number;
  },
): Promise<void> {
  await client.send(new PutItemCommand({ TableName: TABLE, Item: sdkItem(item) }));
}

/** An item as the cloud application writes it: {@linkcode cloudPut}'s argument. */
export type CloudItem = Parameters<typeof cloudPut>[1];

/**
 * A notice (model Notice, synced down) for `target`, addressed to `to`
 * (a device id or "*"; @default target), stamped `at` (ms).
 */
export function notice(
  o: { to?: string; target: string; id: string; text: string; at: number; version?: number },
): CloudItem {
  return {
    pk: `Notice#${o.target}`,
    sk: o.id,
    _model: "Notice",
    _to: o.to ?? o.target,
    updated: iso(o.at),
    _version: o.version ?? 1,
    target: o.target,
    id: o.id,
    text: o.text,
  };
}

/** A setting (model Setting, synced both ways) of device `deviceId`, stamped `at` (ms). */
export function setting(
  o: { deviceId: string; name: string; value: string; at: number; version: number },
): CloudItem {
  return {
    pk: `Device#${o.deviceId}`,
    sk: `Setting#${o.name}`,
    _model: "Setting",
    _to: o.deviceId,
    updated: iso(o.at),
    _version: o.version,
    deviceId: o.deviceId,
    name: o.name,
    value: o.value,
  };
}

/**
 * The cloud application's delete of `item`: a tombstone with the same key,
 * address, stamp and version, expiring at `expires` (seconds since the epoch).
 */
export function tombstone(item: CloudItem, expires: number): CloudItem {
  const { pk, sk, _model, _to, updated, _version } = item;
  return { pk, sk, _model, _to, updated, _version, _deleted: true, _expires: expires };
}

/** The table's item with this key, as plain values, or undefined. */
export async function cloudGet(
  client: DynamoDBClient,
  pk: string,
  sk: string,
): Promise<Record<string, unknown> | undefined> {
  const got = await client.send(
    new GetItemCommand({ TableName: TABLE, Key: { pk: { S: pk }, sk: { S: sk } } }),
  );
  return got.Item ? plainItem(got.Item) : undefined;
}

/** A fresh temp dir for one test, removed on dispose: `await using tmp = await tempDir()`. */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "tern_sync_" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}
