/**
 * Outages and restarts against dynalite on disk: the emulator stops in the
 * middle of an up pass and of a down pass and starts again from its files;
 * the agent side is closed and reopened in between. Afterwards the device
 * and the table hold the same items, nothing acknowledged is lost, the up
 * cursor resumed where it stopped, and every cloud item was applied once.
 */

import assert from "node:assert/strict";
import { FakeClock } from "../lib/clock.ts";
import { UP_CURSOR } from "../sync/mod.ts";
import { scanTable } from "./helpers/dynalite.ts";
import { cloudPut, drive, iso, notice, openAgent, T0, TABLE } from "./sync_helpers.ts";
import { syncCloud } from "./sync_setup.ts";

Deno.test("up: the endpoint going away mid-sync and an agent restart lose and repeat nothing", async () => {
  await using s = await syncCloud({ faults: true });
  const { dir, ddb } = s;
  const clock = new FakeClock(T0);
  const sync = { readSize: 50, batchSize: 25, concurrency: 1 };
  let agent = openAgent({ dir, deviceId: "d1", ddb, clock, sync });
  try {
    for (let i = 0; i < 300; i++) {
      agent.db.create("Reading", { deviceId: "d1", time: iso(T0 + i * 1000), value: i });
    }
    // Stop the emulator during the 5th BatchWriteItem (the first of the 3rd pass).
    ddb.faults.onRequest = (op, n) => {
      if (op === "BatchWriteItem" && n === 5) void ddb.stop();
    };
    await assert.rejects(drive(clock, agent.engine.syncNow(), 100));
    assert.equal(ddb.running, false);
    assert.equal(agent.db.cursor(UP_CURSOR).get(), 100, "two passes of 50 acknowledged");
    assert.ok(agent.engine.status().up.lastError);
    // More writes while offline; the agent restarts (database closed and reopened).
    for (let i = 300; i < 320; i++) {
      agent.db.create("Reading", { deviceId: "d1", time: iso(T0 + i * 1000), value: i });
    }
    agent = await agent.restart();
    assert.equal(agent.db.cursor(UP_CURSOR).get(), 100);
    assert.equal(agent.engine.status().backlog, 220);
    ddb.faults.onRequest = undefined;
    await ddb.start();
    const before = ddb.faults.seen.BatchWriteItem!;
    await drive(clock, agent.engine.syncNow(), 100);
    // Resumed at the cursor: 220 items in ⌈50/25⌉ × 4 + ⌈20/25⌉ = 9 requests, not 13.
    assert.equal(ddb.faults.seen.BatchWriteItem! - before, 9);
    const cloud = await scanTable(ddb.client(), TABLE);
    const local = [...agent.db.items("Reading")].map((x) => x.item);
    assert.equal(cloud.length, 320);
    assert.deepEqual(
      cloud.map((c) => [c.sk, c.value, c._version]),
      local.map((l) => [`Reading#${l.time}`, l.value, l._version]),
    );
    assert.equal(agent.db.cursor(UP_CURSOR).get(), agent.db.lastSeq());
  } finally {
    await agent.close();
  }
});

Deno.test("down: the endpoint going away mid-sync; each cloud item is applied once", async () => {
  await using s = await syncCloud({ faults: true });
  const { dir, ddb, cloud } = s;
  const clock = new FakeClock(T0 + 3_600_000);
  let agent = openAgent({ dir, deviceId: "d1", ddb, clock, sync: { pageSize: 40 } });
  try {
    for (let i = 0; i < 200; i++) {
      const id = `n${String(i).padStart(3, "0")}`;
      await cloudPut(cloud, notice({ target: "d1", id, text: `notice ${i}`, at: T0 + i * 1000 }));
    }
    const puts = ddb.faults.seen.PutItem ?? 0;
    ddb.faults.onRequest = (op, n) => {
      if (op === "Query" && n === 3) void ddb.stop();
    };
    await assert.rejects(drive(clock, agent.engine.syncNow(), 100));
    const partial = agent.db.count("Notice");
    assert.equal(partial, 80, "two pages of 40 applied before the outage");
    agent = await agent.restart();
    ddb.faults.onRequest = undefined;
    await ddb.start();
    await drive(clock, agent.engine.syncNow(), 100);
    assert.equal(agent.db.count("Notice"), 200);
    const applied = agent.db.changes(0, { limit: 10_000 }).filter((c) => c.model === "Notice");
    assert.equal(applied.length, 200, "no item applied twice");
    assert.ok(applied.every((c) => c.origin === "cloud" && c.op === "create"));
    // And nothing of it went back up.
    assert.equal(ddb.faults.seen.BatchWriteItem ?? 0, 0);
    assert.equal(ddb.faults.seen.PutItem ?? 0, puts);
  } finally {
    await agent.close();
  }
});
