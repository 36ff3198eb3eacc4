/** TTL: expired items vanish from reads at once and are purged in the background; retention. */

import assert from "node:assert/strict";
import { FakeClock } from "../lib/clock.ts";
import { tempDb } from "./db_helpers.ts";

const KEY = { deviceId: "d1", time: "2024-05-01T00:00:00Z" };
const count = (db: { sql: { prepare(s: string): { get(): unknown } } }) =>
  Number((db.sql.prepare("SELECT count(*) AS n FROM _items").get() as { n: number }).n);

Deno.test("an expired item disappears from get and find at once, before any purge", async () => {
  await using t = await tempDb();
  t.db.create("Reading", { ...KEY, expires: "2024-05-01T00:00:10Z" });
  t.db.create("Reading", { ...KEY, deviceId: "d1", time: "2024-05-02", expires: "2024-06-01" });
  await t.clock.advance(9_999);
  assert.ok(t.db.get("Reading", KEY));
  await t.clock.advance(1);
  assert.equal(t.db.get("Reading", KEY), undefined);
  assert.equal(t.db.find("Reading", { deviceId: "d1" }).items.length, 1);
  assert.equal(t.db.count("Reading"), 1);
  assert.equal(count(t.db), 2, "still on disk until the purge");
  // The key is free again.
  t.db.create("Reading", { ...KEY, value: 5 });
  assert.equal(t.db.get("Reading", KEY)!.value, 5);
});

Deno.test("the background purge deletes expired items on the injected clock and stops on dispose", async () => {
  const clock = new FakeClock(Date.UTC(2024, 4, 1));
  await using t = await tempDb({ clock, purgeInterval: 60_000 });
  t.db.create("Reading", { ...KEY, expires: "2024-05-01T00:00:30Z" });
  t.db.create("Reading", { ...KEY, deviceId: "d2" });
  await clock.waitForSleepers(1);
  await clock.advance(59_000);
  assert.equal(count(t.db), 2);
  await clock.advance(1_000);
  assert.equal(count(t.db), 1);
  assert.equal(t.db.changes().length, 2, "purges write no change rows");
  await t.db[Symbol.asyncDispose]();
  assert.equal(clock.pending, 0, "the purge loop stopped sleeping");
});

Deno.test("retention keeps at most maxItems and drops items older than maxAge", async () => {
  await using t = await tempDb();
  t.db.define("_Log", {
    pk: "Log",
    sk: "${id}",
    fields: { id: { type: "string", generate: "ulid" }, msg: { type: "string" } },
    retention: { maxItems: 3, maxAge: 3_600_000 },
  });
  for (let i = 0; i < 5; i++) {
    t.db.create("_Log", { msg: `m${i}` });
    await t.clock.advance(1000);
  }
  assert.equal(t.db.purge().retained, 2);
  assert.deepEqual(t.db.find("_Log", {}).items.map((i) => i.msg), ["m2", "m3", "m4"]);
  await t.clock.advance(3_600_000 - 2000); // now m2 (created at +2 s) is just over an hour old
  assert.equal(t.db.purge().retained, 1);
  assert.deepEqual(t.db.find("_Log", {}).items.map((i) => i.msg), ["m3", "m4"]);
});

Deno.test("a number ttl field holds epoch seconds, as in DynamoDB", async () => {
  await using t = await tempDb();
  t.db.define("_Token", {
    pk: "T#${id}",
    fields: { id: { type: "string", required: true }, exp: { type: "number", ttl: true } },
  });
  t.db.create("_Token", { id: "a", exp: t.clock.now() / 1000 + 5 });
  assert.ok(t.db.get("_Token", { id: "a" }));
  await t.clock.advance(5000);
  assert.equal(t.db.get("_Token", { id: "a" }), undefined);
  assert.equal(t.db.purge().expired, 1);
});
