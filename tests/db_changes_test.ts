/** The change log: rows in the write's transaction, subscribers after commit, cursors, pruning. */

import assert from "node:assert/strict";
import { type Change, Database } from "../lib/db/mod.ts";
import { SCHEMA, tempDb } from "./db_helpers.ts";

const KEY = { deviceId: "d1", time: "2024-05-01T00:00:00Z" };

Deno.test("every write appends one change row with seq, op, version, time and origin", async () => {
  await using t = await tempDb();
  t.db.create("Reading", { ...KEY, value: 1 });
  await t.clock.advance(500);
  t.db.update("Reading", KEY, { value: 2 }, { origin: "cloud" });
  t.db.remove("Reading", KEY);
  assert.deepEqual(t.db.changes(0), [
    {
      seq: 1,
      model: "Reading",
      pk: "Sensor#d1",
      sk: "Reading#2024-05-01T00:00:00.000Z",
      op: "create",
      version: 1,
      time: "2024-05-01T00:00:00.000Z",
      origin: "local",
    },
    {
      seq: 2,
      model: "Reading",
      pk: "Sensor#d1",
      sk: "Reading#2024-05-01T00:00:00.000Z",
      op: "update",
      version: 2,
      time: "2024-05-01T00:00:00.500Z",
      origin: "cloud",
    },
    {
      seq: 3,
      model: "Reading",
      pk: "Sensor#d1",
      sk: "Reading#2024-05-01T00:00:00.000Z",
      op: "delete",
      version: 3,
      time: "2024-05-01T00:00:00.500Z",
      origin: "local",
    },
  ]);
  assert.deepEqual(t.db.changes(1, { limit: 1 }).map((c) => c.seq), [2]);
});

Deno.test("a rolled-back write leaves no change row and tells no subscriber", async () => {
  await using t = await tempDb();
  const heard: Change[] = [];
  t.db.subscribe(undefined, (c) => heard.push(c));
  assert.throws(() =>
    t.db.transaction(() => {
      t.db.create("Reading", { ...KEY });
      throw new Error("no");
    })
  );
  assert.deepEqual(t.db.changes(), []);
  assert.deepEqual(heard, []);
});

Deno.test("subscribe() hears changes only after commit, filtered by model", async () => {
  await using t = await tempDb();
  t.db.define("_Other", { pk: "O#${id}", fields: { id: { type: "string", required: true } } });
  const all: number[] = [];
  const readings: number[] = [];
  t.db.subscribe(undefined, (c) => all.push(c.seq));
  const off = t.db.subscribe("Reading", (c) => readings.push(c.seq));
  t.db.transaction(() => {
    t.db.create("Reading", { ...KEY });
    t.db.create("_Other", { id: "x" });
    assert.deepEqual(all, [], "not told before commit");
  });
  assert.deepEqual(all, [1, 2]);
  assert.deepEqual(readings, [1]);
  off();
  t.db.update("Reading", KEY, { value: 1 });
  assert.deepEqual(readings, [1]);
  assert.deepEqual(all, [1, 2, 3]);
});

Deno.test("a throwing subscriber does not stop the write or other subscribers", async () => {
  await using t = await tempDb();
  const heard: number[] = [];
  t.db.subscribe(undefined, () => {
    throw new Error("bad listener");
  });
  t.db.subscribe(undefined, (c) => heard.push(c.seq));
  t.db.create("Reading", { ...KEY });
  assert.deepEqual(heard, [1]);
  assert.ok(t.db.get("Reading", KEY));
});

Deno.test("a cursor resumes after reopen without loss or duplicates", async () => {
  await using t = await tempDb();
  for (let i = 0; i < 5; i++) t.db.create("Reading", { ...KEY, deviceId: `d${i}` });
  const c = t.db.cursor("sync");
  assert.equal(c.get(), 0);
  const first = c.read({ limit: 2 });
  // The consumer's own effect and the cursor move together (exactly once).
  t.db.transaction(() => {
    t.db.sql.exec("CREATE TABLE IF NOT EXISTS sent (seq INTEGER PRIMARY KEY)");
    for (const ch of first) t.db.sql.prepare("INSERT INTO sent VALUES (?)").run(ch.seq);
    c.set(first.at(-1)!.seq);
  });
  t.db.close();
  const db = Database.open({ path: t.path, schema: SCHEMA, purgeInterval: 0 });
  try {
    const again = db.cursor("sync");
    assert.equal(again.get(), 2);
    const rest = again.read();
    assert.deepEqual(rest.map((ch) => ch.seq), [3, 4, 5]);
    assert.deepEqual(db.cursors(), [{ name: "sync", seq: 2 }]);
  } finally {
    db.close();
  }
});

Deno.test("change rows are pruned once every registered cursor has passed them", async () => {
  await using t = await tempDb({ changeLogLimit: 2 });
  for (let i = 0; i < 6; i++) t.db.create("Reading", { ...KEY, deviceId: `d${i}` });
  const a = t.db.cursor("a");
  const b = t.db.cursor("b");
  a.set(5);
  b.set(2);
  assert.equal(t.db.purge().changes, 2);
  assert.deepEqual(t.db.changes().map((c) => c.seq), [3, 4, 5, 6]);
  b.set(4);
  t.db.purge();
  assert.deepEqual(t.db.changes().map((c) => c.seq), [5, 6]);
  // Without cursors only the newest changeLogLimit rows stay; seqs are never reused.
  a.drop();
  b.drop();
  t.db.create("Reading", { ...KEY, deviceId: "d9" });
  t.db.purge();
  assert.deepEqual(t.db.changes().map((c) => c.seq), [6, 7]);
  t.db.sql.exec("DELETE FROM _changes");
  t.db.create("Reading", { ...KEY, deviceId: "d10" });
  assert.deepEqual(t.db.changes().map((c) => c.seq), [8]);
  assert.equal(t.db.lastSeq(), 8);
});
