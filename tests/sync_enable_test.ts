/**
 * Turning sync on for a model that already holds data: existing items go up
 * once (they predate the change log), and a model newly synced down reads
 * its table from the start, even when the table's cursor is already far
 * ahead because of another model.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeClock } from "../lib/clock.ts";
import { Database, type ModelInput } from "../lib/db/mod.ts";
import { scanTable } from "./helpers/dynalite.ts";
import { cloudPut, iso, notice, openAgent, SCHEMA, setting, T0, TABLE } from "./sync_helpers.ts";
import { syncCloud } from "./sync_setup.ts";

function unsynced(...names: string[]): Record<string, ModelInput> {
  const out: Record<string, ModelInput> = {};
  for (const [name, def] of Object.entries(SCHEMA)) {
    out[name] = names.includes(name) ? { ...def, sync: "none" } : def;
  }
  return out;
}

Deno.test("a model switched to sync sends its existing items and reads its table from the start", async () => {
  await using s = await syncCloud();
  const { dir, ddb, cloud } = s;
  const clock = new FakeClock(T0 + 86_400_000);
  // Before: Reading and Notice are not synced; the device has readings, the cloud an old notice.
  {
    using db = Database.open({
      path: join(dir, "d1.db"),
      schema: unsynced("Reading", "Notice"),
      clock,
      purgeInterval: 0,
    });
    for (let i = 0; i < 30; i++) {
      db.create("Reading", { deviceId: "d1", time: iso(T0 + i * 1000), value: i });
    }
  }
  await cloudPut(cloud, notice({ target: "d1", id: "old", text: "written long before", at: T0 }));
  {
    await using agent = openAgent({
      dir,
      deviceId: "d1",
      ddb,
      clock,
      schema: unsynced("Reading", "Notice"),
    });
    // A "both" model in the same table moves the table's down cursor far past the notice.
    await cloudPut(
      cloud,
      setting({ deviceId: "d1", name: "mode", value: "eco", at: T0 + 86_400_000, version: 1 }),
    );
    await agent.engine.syncNow();
    assert.equal((await scanTable(cloud, TABLE)).filter((i) => i._model === "Reading").length, 0);
    assert.equal(agent.db.count("Notice"), 0);
  }
  // After: both synced.
  await using agent = openAgent({ dir, deviceId: "d1", ddb, clock });
  const r = await agent.engine.syncNow();
  assert.equal(r.up.accepted, 30);
  assert.equal((await scanTable(cloud, TABLE)).filter((i) => i._model === "Reading").length, 30);
  assert.equal(agent.db.get("Notice", { target: "d1", id: "old" })?.text, "written long before");
  // Only once.
  const again = await agent.engine.syncNow();
  assert.equal(again.up.accepted, 0);
  assert.equal(again.down.applied, 0);
});
