/**
 * Down-sync against dynalite: items a cloud application addresses to one
 * device or to every device reach the right devices, with origin `cloud`
 * (never sent back up); the overlap window catches writes stamped before
 * the cursor; deletes travel both ways (up: DeleteItem or a tombstone with
 * a TTL; down: tombstones).
 */

import assert from "node:assert/strict";
import { FakeClock } from "../lib/clock.ts";
import { downCursorKey, SyncState, UP_CURSOR } from "../sync/mod.ts";
import { scanTable } from "./helpers/dynalite.ts";
import { cloudPut, iso, notice, openAgent, T0, TABLE, tombstone } from "./sync_helpers.ts";
import { syncCloud, syncSetup } from "./sync_setup.ts";

Deno.test("items for one device and for all devices reach the right agents, not echoed", async () => {
  await using s = await syncCloud({ faults: true });
  const { dir, ddb, cloud } = s;
  const clock = new FakeClock(T0 + 60_000);
  await using a = openAgent({ dir, deviceId: "d1", ddb, clock });
  await using b = openAgent({ dir, deviceId: "d2", ddb, clock });
  await cloudPut(cloud, notice({ target: "d1", id: "n1", text: "for d1", at: T0 }));
  await cloudPut(cloud, notice({ target: "d2", id: "n2", text: "for d2", at: T0 }));
  await cloudPut(cloud, notice({ to: "*", target: "all", id: "n3", text: "for everyone", at: T0 }));
  const writesBefore = (ddb.faults.seen.BatchWriteItem ?? 0) + (ddb.faults.seen.PutItem ?? 0);
  const ra = await a.engine.syncNow();
  const rb = await b.engine.syncNow();
  assert.equal(ra.down.applied, 2);
  assert.equal(rb.down.applied, 2);
  const ids = (db: typeof a.db) => [...db.items("Notice")].map((x) => x.item.id).sort();
  assert.deepEqual(ids(a.db), ["n1", "n3"]);
  assert.deepEqual(ids(b.db), ["n2", "n3"]);
  const n1 = a.db.get("Notice", { target: "d1", id: "n1" })!;
  assert.equal(n1.text, "for d1");
  assert.equal(n1.updated, iso(T0));
  assert.equal(n1._version, 1);
  assert.deepEqual(a.db.changes(0).map((c) => c.origin), ["cloud", "cloud"]);
  // Applied with origin cloud: the next pass sends nothing up.
  await a.engine.syncNow();
  await b.engine.syncNow();
  const writesAfter = (ddb.faults.seen.BatchWriteItem ?? 0) + (ddb.faults.seen.PutItem ?? 0);
  assert.equal(writesAfter, writesBefore);
  assert.equal(a.db.cursor(UP_CURSOR).get(), a.db.lastSeq());
  // A newer cloud version replaces the device's; an old one re-read in the overlap does not.
  await cloudPut(
    cloud,
    notice({ target: "d1", id: "n1", text: "for d1, v2", at: T0 + 1000, version: 2 }),
  );
  const r2 = await a.engine.syncNow();
  assert.equal(r2.down.applied, 1);
  assert.equal(a.db.get("Notice", { target: "d1", id: "n1" })!.text, "for d1, v2");
  assert.equal((await a.engine.syncNow()).down.applied, 0);
});

Deno.test("the overlap window catches a change stamped before the cursor", async () => {
  await using s = await syncSetup({ start: T0 + 3_600_000, sync: { overlap: 60_000 } });
  const { agent: a, cloud } = s;
  await cloudPut(cloud, notice({ target: "d1", id: "late", text: "x", at: T0 + 600_000 }));
  await a.engine.syncNow();
  const state = new SyncState(a.db.sql);
  assert.equal(state.get(downCursorKey(TABLE, "d1")), iso(T0 + 600_000));
  // A writer whose clock lags by 30 s: inside the 60 s window, it is read.
  await cloudPut(cloud, notice({ target: "d1", id: "skewed", text: "x", at: T0 + 570_000 }));
  // One lagging by 10 minutes: outside the window (documented: set overlap above the worst skew).
  await cloudPut(cloud, notice({ target: "d1", id: "too-late", text: "x", at: T0 }));
  await a.engine.syncNow();
  assert.ok(a.db.get("Notice", { target: "d1", id: "skewed" }));
  assert.equal(a.db.get("Notice", { target: "d1", id: "too-late" }), undefined);
  // `full` ignores the cursors.
  await a.engine.full();
  assert.ok(a.db.get("Notice", { target: "d1", id: "too-late" }));
});

Deno.test("the cursor never passes the present: an item stamped ahead hides nothing after it", async () => {
  await using s = await syncSetup({ start: T0 + 3_600_000, sync: { overlap: 60_000 } });
  const { agent: a, cloud, clock } = s;
  const state = new SyncState(a.db.sql);
  const key = downCursorKey(TABLE, "d1");
  // A cloud writer whose clock is a year ahead.
  await cloudPut(
    cloud,
    notice({ target: "d1", id: "ahead", text: "x", at: T0 + 366 * 86_400_000 }),
  );
  await a.engine.syncNow();
  assert.ok(a.db.get("Notice", { target: "d1", id: "ahead" }));
  assert.equal(state.get(key), iso(clock.now()));
  await clock.advance(120_000);
  await cloudPut(cloud, notice({ target: "d1", id: "next", text: "x", at: clock.now() - 1000 }));
  const r = await a.engine.syncNow();
  assert.ok(a.db.get("Notice", { target: "d1", id: "next" }), "the item after it arrived");
  assert.equal(r.down.applied, 1, "the one ahead is read again, not applied again");
  // A cursor stored ahead (by an earlier version, or before the clock was set back) heals.
  state.set(key, iso(T0 + 400 * 86_400_000));
  await cloudPut(cloud, notice({ target: "d1", id: "healed", text: "x", at: clock.now() - 1000 }));
  await a.engine.syncNow();
  assert.ok(a.db.get("Notice", { target: "d1", id: "healed" }));
  assert.equal(state.get(key), iso(clock.now()));
});

Deno.test("deletes travel both ways: DeleteItem, tombstones with a TTL, cloud tombstones", async () => {
  await using s = await syncSetup({ start: T0 });
  const { agent: a, clock, cloud } = s;
  a.db.create("Reading", { deviceId: "d1", time: iso(T0), value: 1 });
  a.db.create("Setting", { deviceId: "d1", name: "mode", value: "eco" });
  await a.engine.syncNow();
  assert.equal((await scanTable(cloud, TABLE)).length, 2);
  await clock.advance(1000);
  a.db.remove("Reading", { deviceId: "d1", time: iso(T0) });
  a.db.remove("Setting", { deviceId: "d1", name: "mode" });
  await a.engine.syncNow();
  const items = await scanTable(cloud, TABLE);
  // The up-only item is gone; the "both" item is a tombstone expiring after tombstoneTtl.
  assert.equal(items.length, 1);
  const tomb = items[0]!;
  assert.equal(tomb.pk, "Device#d1");
  assert.equal(tomb._deleted, true);
  assert.equal(tomb._version, 2);
  assert.equal(tomb.updated, iso(T0 + 1000));
  assert.equal(tomb._expires, Math.floor((T0 + 1000 + 30 * 86_400_000) / 1000));
  assert.equal(tomb.value, undefined);
  // Down: a cloud application deletes a notice by writing a tombstone.
  await cloudPut(cloud, notice({ target: "d1", id: "n1", text: "hello", at: T0 }));
  await a.engine.syncNow();
  assert.ok(a.db.get("Notice", { target: "d1", id: "n1" }));
  await cloudPut(
    cloud,
    tombstone(
      notice({ target: "d1", id: "n1", text: "", at: T0 + 5000, version: 2 }),
      Math.floor(T0 / 1000) + 86_400,
    ),
  );
  const r = await a.engine.syncNow();
  assert.equal(r.down.applied, 1);
  assert.equal(a.db.get("Notice", { target: "d1", id: "n1" }), undefined);
  const last = a.db.changes(0).at(-1)!;
  assert.equal(last.op, "delete");
  assert.equal(last.origin, "cloud");
});
