/**
 * The usual sync test setup in one call. Kept apart from sync_helpers.ts,
 * which child processes (the kill test) import without the FFI permission
 * that dynalite's LevelDB binding needs.
 */

import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { FakeClock } from "../lib/clock.ts";
import type { Logger } from "../lib/log/mod.ts";
import { createSyncTable, type Dynalite, startDynalite } from "./helpers/dynalite.ts";
import { type Agent, openAgent, TABLE, tempDir } from "./sync_helpers.ts";

/** Options of {@linkcode syncCloud}. */
export interface SyncCloudOptions {
  /** Front dynalite with its fault-injecting proxy. @default false */
  faults?: boolean;
  /** Keep dynalite's data in memory (lost on `stop()`). @default false */
  memory?: boolean;
}

/** What {@linkcode syncCloud} opens; disposing it stops dynalite and removes the dir. */
export interface SyncCloud extends AsyncDisposable {
  /** A temp dir for the devices' database files. */
  dir: string;
  ddb: Dynalite;
  /** A client of the cloud application's, on dynalite. */
  cloud: DynamoDBClient;
}

/**
 * A temp dir and dynalite holding the sync table, for tests that open their
 * agents themselves: `await using s = await syncCloud()`.
 */
export async function syncCloud(o: SyncCloudOptions = {}): Promise<SyncCloud> {
  const stack = new AsyncDisposableStack();
  try {
    const tmp = stack.use(await tempDir());
    const ddb = stack.use(
      await startDynalite({ faults: o.faults ?? false, memory: o.memory ?? false }),
    );
    const cloud = ddb.client();
    await createSyncTable(cloud, TABLE);
    const owned = stack.move();
    return { dir: tmp.path, ddb, cloud, [Symbol.asyncDispose]: () => owned.disposeAsync() };
  } catch (e) {
    await stack.disposeAsync();
    throw e;
  }
}

/** Options of {@linkcode syncSetup}. */
export interface SyncSetupOptions extends SyncCloudOptions {
  /** The fake clock's start, in ms since the epoch. */
  start: number;
  /** Overrides of the agent's sync section. */
  sync?: Record<string, unknown>;
  log?: Logger;
}

/** What {@linkcode syncSetup} opens; disposing it closes the agent, dynalite and the dir. */
export interface SyncSetup extends SyncCloud {
  clock: FakeClock;
  agent: Agent;
}

/**
 * The usual test setup: {@linkcode syncCloud}, a fake clock at `start`, and
 * an agent for device `d1` on them. `await using s = await syncSetup({ start: T0 })`.
 */
export async function syncSetup(o: SyncSetupOptions): Promise<SyncSetup> {
  const stack = new AsyncDisposableStack();
  try {
    const s = stack.use(await syncCloud(o));
    const clock = new FakeClock(o.start);
    const agent = stack.use(openAgent({
      dir: s.dir,
      deviceId: "d1",
      ddb: s.ddb,
      clock,
      ...(o.sync ? { sync: o.sync } : {}),
      ...(o.log ? { log: o.log } : {}),
    }));
    const owned = stack.move();
    return { ...s, clock, agent, [Symbol.asyncDispose]: () => owned.disposeAsync() };
  } catch (e) {
    await stack.disposeAsync();
    throw e;
  }
}
