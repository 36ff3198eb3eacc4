/**
 * The usual sync test setup in one call. Kept apart from sync_helpers.ts,
 * which child processes (the kill test) import without the FFI permission
 * that dynalite's LevelDB binding needs.
 */

import { FakeClock } from "../lib/clock.ts";
import { createSyncTable, type Dynalite, startDynalite } from "./helpers/dynalite.ts";
import { type Agent, openAgent, TABLE, tempDir } from "./sync_helpers.ts";

/** What {@linkcode syncSetup} opens; disposing it closes the agent, dynalite and the dir. */
export interface SyncSetup extends AsyncDisposable {
  dir: string;
  ddb: Dynalite;
  clock: FakeClock;
  agent: Agent;
}

/**
 * The usual test setup: a temp dir, dynalite (with fault injection when
 * `faults`) holding the sync table, a fake clock at `start`, and an agent
 * for device `d1` on them. `await using s = await syncSetup({ start: T0 })`.
 */
export async function syncSetup(o: { start: number; faults?: boolean }): Promise<SyncSetup> {
  const stack = new AsyncDisposableStack();
  try {
    const tmp = stack.use(await tempDir());
    const ddb = stack.use(await startDynalite({ faults: o.faults ?? false }));
    await createSyncTable(ddb.client(), TABLE);
    const clock = new FakeClock(o.start);
    const agent = stack.use(openAgent({ dir: tmp.path, deviceId: "d1", ddb, clock }));
    const owned = stack.move();
    return { dir: tmp.path, ddb, clock, agent, [Symbol.asyncDispose]: () => owned.disposeAsync() };
  } catch (e) {
    await stack.disposeAsync();
    throw e;
  }
}
