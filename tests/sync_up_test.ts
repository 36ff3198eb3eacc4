/**
 * Up-sync against dynalite: every change of a model synced "up" reaches the
 * table, repeated changes are coalesced, batches are bounded, throttling and
 * unprocessed items are retried, and the cursor moves only past what
 * DynamoDB accepted.
 */

import assert from "node:assert/strict";
import { UP_CURSOR } from "../sync/mod.ts";
import { LogHub, RingSink } from "../lib/log/mod.ts";
import { scanTable } from "./helpers/dynalite.ts";
import { drive, iso, T0, TABLE } from "./sync_helpers.ts";
import { syncSetup } from "./sync_setup.ts";

const time = (i: number) => iso(T0 + i * 1000);

Deno.test("up sends the current state of changed items, coalesced and in batches", async () => {
  await using s = await syncSetup({ start: T0, faults: true });
  const { ddb, agent } = s;
  const { db } = agent;
  for (let i = 0; i < 60; i++) db.create("Reading", { deviceId: "d1", time: time(i), value: i });
  for (let i = 0; i < 10; i++) {
    db.update("Reading", { deviceId: "d1", time: time(i) }, { value: 100 + i });
    db.update("Reading", { deviceId: "d1", time: time(i) }, { value: 200 + i });
  }
  for (let i = 50; i < 60; i++) db.remove("Reading", { deviceId: "d1", time: time(i) });
  db.create("Local", { id: "not-synced" });
  const seenBefore = ddb.faults.seen.BatchWriteItem ?? 0;
  const report = await agent.engine.syncNow();
  // 90 change rows coalesce to 60 items: 50 puts and 10 deletes, in ⌈60/25⌉ = 3 requests.
  assert.equal(report.up.accepted, 60);
  assert.equal((ddb.faults.seen.BatchWriteItem ?? 0) - seenBefore, 3);
  const items = await scanTable(ddb.client(), TABLE);
  assert.equal(items.length, 50);
  const local = [...db.items("Reading")].map((r) => r.item);
  for (const item of local) {
    const cloud = items.find((c) => c.sk === `Reading#${item.time}`);
    assert.ok(cloud, `item ${item.time} in the cloud`);
    assert.equal(cloud.pk, "Sensor#d1");
    assert.equal(cloud.value, item.value);
    assert.equal(cloud._version, item._version);
    assert.equal(cloud.updated, item.updated);
    assert.equal(cloud._model, "Reading");
    assert.equal(cloud._device, "d1");
    assert.equal(cloud._to, undefined, "up-only items stay out of the down index");
  }
  assert.equal(items.find((c) => c.sk === `Reading#${time(0)}`)?.value, 200);
  assert.equal(db.cursor(UP_CURSOR).get(), db.lastSeq());
  assert.equal(agent.engine.status().backlog, 0);
});

Deno.test("throttling and unprocessed items are retried until DynamoDB accepted them", async () => {
  await using s = await syncSetup({ start: T0, faults: true });
  const { ddb, clock, agent } = s;
  for (let i = 0; i < 40; i++) {
    agent.db.create("Reading", { deviceId: "d1", time: time(i), value: i });
  }
  ddb.faults.throttle = 2;
  ddb.faults.unprocessed = 3;
  const report = await drive(clock, agent.engine.syncNow(), 50);
  assert.equal(report.up.accepted, 40);
  assert.equal(ddb.faults.throttle, 0);
  assert.equal(ddb.faults.unprocessed, 0);
  assert.ok(agent.engine.status().counters!.retries >= 5);
  assert.equal((await scanTable(ddb.client(), TABLE)).length, 40);
  assert.equal(agent.db.cursor(UP_CURSOR).get(), agent.db.lastSeq());
});

Deno.test("the cursor does not move past changes DynamoDB did not accept", async () => {
  await using s = await syncSetup({ start: T0, faults: true });
  const { ddb, clock, agent } = s;
  agent.db.create("Reading", { deviceId: "d1", time: time(0), value: 0 });
  // Every request throttled: the pass fails after its retries, nothing is acknowledged.
  ddb.faults.throttle = 1000;
  await assert.rejects(drive(clock, agent.engine.syncNow(), 50), /Injected throttling/);
  assert.equal(agent.db.cursor(UP_CURSOR).get(), 0);
  assert.equal(agent.engine.status().backlog, 1);
  assert.match(agent.engine.status().up.lastError!.message, /ProvisionedThroughputExceeded/);
  ddb.faults.throttle = 0;
  agent.db.create("Reading", { deviceId: "d1", time: time(1), value: 1 });
  await drive(clock, agent.engine.syncNow(), 50);
  assert.equal((await scanTable(ddb.client(), TABLE)).length, 2);
  assert.equal(agent.db.cursor(UP_CURSOR).get(), agent.db.lastSeq());
  assert.equal(agent.engine.status().backlog, 0);
});

Deno.test("a held-back item stops the cursor just before its change; the rest is not lost", async () => {
  await using s = await syncSetup({ start: T0, faults: true });
  const { ddb, clock, agent } = s;
  const { db } = agent;
  for (let i = 0; i < 5; i++) db.create("Reading", { deviceId: "d1", time: time(i), value: i });
  db.create("Reading", { deviceId: "held", time: time(5), value: 5 });
  const heldSeq = db.lastSeq();
  for (let i = 6; i < 11; i++) db.create("Reading", { deviceId: "d1", time: time(i), value: i });
  ddb.faults.hold.add("Sensor#held");
  const r = await drive(clock, agent.engine.syncNow(), 50);
  // The first pass sends 11 items and 10 are accepted; the next pass stops at the held one again.
  assert.ok(r.up.failed > 0);
  assert.equal(db.cursor(UP_CURSOR).get(), heldSeq - 1);
  assert.equal((await scanTable(ddb.client(), TABLE)).length, 10);
  ddb.faults.hold.clear();
  await drive(clock, agent.engine.syncNow(), 50);
  assert.equal((await scanTable(ddb.client(), TABLE)).length, 11);
  assert.equal(db.cursor(UP_CURSOR).get(), db.lastSeq());
});

Deno.test("a growing backlog while offline is logged once past backlogWarning", async () => {
  const ring = new RingSink(100);
  const log = new LogHub({ sinks: [ring] }).logger("sync");
  await using s = await syncSetup({ start: T0, log, sync: { backlogWarning: 5 } });
  const { ddb, clock, agent } = s;
  await ddb.stop();
  for (let i = 0; i < 4; i++) agent.db.create("Reading", { deviceId: "d1", time: time(i) });
  await assert.rejects(drive(clock, agent.engine.syncNow(), 50));
  const warnings = () => ring.entries().filter((e) => /Sync backlog/.test(e.msg));
  assert.equal(warnings().length, 0);
  for (let i = 4; i < 8; i++) agent.db.create("Reading", { deviceId: "d1", time: time(i) });
  await assert.rejects(drive(clock, agent.engine.syncNow(), 50));
  await assert.rejects(drive(clock, agent.engine.syncNow(), 50));
  assert.equal(warnings().length, 1);
  assert.match(warnings()[0]!.msg, /8 local changes wait to be sent \(warning at 5\)/);
  await ddb.start();
  await drive(clock, agent.engine.syncNow(), 50);
  assert.equal(agent.engine.status().backlog, 0);
});

Deno.test("a batch that keeps failing stops the pass but keeps the batches before it", async () => {
  await using s = await syncSetup({ start: T0, faults: true, sync: { concurrency: 1 } });
  const { ddb, clock, agent } = s;
  for (let i = 0; i < 100; i++) {
    agent.db.create("Reading", { deviceId: "d1", time: time(i), value: i });
  }
  // From the 3rd BatchWriteItem on, DynamoDB throttles everything.
  ddb.faults.onRequest = (op, n) => {
    if (op === "BatchWriteItem" && n === 3) ddb.faults.throttle = 1000;
  };
  await assert.rejects(drive(clock, agent.engine.syncNow(), 50), /Injected throttling/);
  assert.equal(agent.db.cursor(UP_CURSOR).get(), 50, "the two accepted batches are kept");
  assert.equal(agent.engine.status().backlog, 50);
  assert.equal(ddb.faults.seen.BatchWriteItem, 6, "no new batch after the failing one gave up");
  ddb.faults.onRequest = undefined;
  ddb.faults.throttle = 0;
  await drive(clock, agent.engine.syncNow(), 50);
  assert.equal((await scanTable(ddb.client(), TABLE)).length, 100);
});

Deno.test("an item DynamoDB refuses is logged and skipped; the others go through", async () => {
  const ring = new RingSink(100);
  const log = new LogHub({ sinks: [ring] }).logger("sync");
  await using s = await syncSetup({ start: T0, log });
  const { ddb, agent } = s;
  for (let i = 0; i < 30; i++) {
    // 1e200 is a valid JSON number but beyond DynamoDB's range (±1e125).
    agent.db.create("Reading", { deviceId: "d1", time: time(i), value: i === 7 ? 1e200 : i });
  }
  agent.db.create("Setting", { deviceId: "d1", name: "a", value: "x".repeat(10) });
  const r = await agent.engine.syncNow();
  assert.equal(r.up.failed, 0);
  const items = await scanTable(ddb.client(), TABLE);
  assert.equal(items.length, 30);
  assert.ok(!items.some((i) => i.sk === `Reading#${time(7)}`));
  assert.equal(agent.engine.status().counters!.rejected, 1);
  assert.equal(agent.db.cursor(UP_CURSOR).get(), agent.db.lastSeq());
  assert.ok(ring.entries().some((e) => e.level === "error" && /refused an item/.test(e.msg)));
});
