/**
 * The item API against a real SQLite file: create/get/update/put/remove,
 * metadata, optimistic concurrency, limits, transactions.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { Database, DbError } from "../lib/db/mod.ts";
import { dbError, SCHEMA, tempDb } from "./db_helpers.ts";

const KEY = { deviceId: "d1", time: "2024-05-01T00:00:00Z" };

Deno.test("create() stores the item with created, updated and _version in the file", async () => {
  await using t = await tempDb();
  const item = t.db.create("Reading", { ...KEY, value: 21.5 });
  assert.equal(item._version, 1);
  assert.equal(item.created, "2024-05-01T00:00:00.000Z");
  assert.equal(item.updated, item.created);
  assert.equal(item.unit, "C");
  assert.match(item.id as string, /^[0-9A-Z]{26}$/);
  t.db.close();
  // Read the file with a separate raw connection: the row is really there.
  const raw = new DatabaseSync(t.path);
  const row = raw.prepare("SELECT pk, sk, version, data FROM _items").get() as Record<
    string,
    unknown
  >;
  raw.close();
  assert.equal(row.pk, "Sensor#d1");
  assert.equal(row.sk, "Reading#2024-05-01T00:00:00.000Z");
  assert.deepEqual(JSON.parse(row.data as string), item);
});

Deno.test("the database file is 0600 in a 0700 directory", async () => {
  await using t = await tempDb();
  assert.equal(Deno.statSync(t.path).mode! & 0o777, 0o600);
  assert.equal(Deno.statSync(t.path.replace(/\/tern\.db$/, "")).mode! & 0o777, 0o700);
});

Deno.test("get() returns the item by key fields or raw key, undefined when absent", async () => {
  await using t = await tempDb();
  const item = t.db.create("Reading", { ...KEY, value: 1 });
  assert.deepEqual(t.db.get("Reading", KEY), item);
  assert.deepEqual(
    t.db.get("Reading", { pk: "Sensor#d1", sk: "Reading#2024-05-01T00:00:00.000Z" }),
    item,
  );
  assert.equal(t.db.get("Reading", { ...KEY, deviceId: "d2" }), undefined);
});

Deno.test("create() of an existing key is a conflict and changes nothing", async () => {
  await using t = await tempDb();
  t.db.create("Reading", { ...KEY, value: 1 });
  const e = dbError(() => t.db.create("Reading", { ...KEY, value: 2 }), "conflict");
  assert.match(e.message, /already exists/);
  assert.equal(t.db.get("Reading", KEY)!.value, 1);
  assert.equal(t.db.lastSeq(), 1);
});

Deno.test("update() bumps _version and updated; ifVersion rejects a stale write without changing anything", async () => {
  await using t = await tempDb();
  t.db.create("Reading", { ...KEY, value: 1 });
  await t.clock.advance(1000);
  const u = t.db.update("Reading", KEY, { value: 2, note: "warm" }, { ifVersion: 1 });
  assert.equal(u._version, 2);
  assert.equal(u.updated, "2024-05-01T00:00:01.000Z");
  assert.equal(u.created, "2024-05-01T00:00:00.000Z");
  const e = dbError(() => t.db.update("Reading", KEY, { value: 3 }, { ifVersion: 1 }), "conflict");
  assert.match(e.message, /is at version 2, not 1/);
  assert.equal(t.db.get("Reading", KEY)!.value, 2);
  assert.equal(t.db.lastSeq(), 2);
  const cleared = t.db.update("Reading", KEY, { note: null });
  assert.equal("note" in cleared, false);
  assert.equal(cleared._version, 3);
});

Deno.test("update() of a missing item is not_found unless upsert", async () => {
  await using t = await tempDb();
  const e = dbError(() => t.db.update("Reading", KEY, { value: 1 }), "not_found");
  assert.equal(e.message, 'No item "Sensor#d1"/"Reading#2024-05-01T00:00:00.000Z" in "Reading"');
  const u = t.db.update("Reading", KEY, { value: 1 }, { upsert: true });
  assert.equal(u._version, 1);
  assert.equal(t.db.changes()[0]!.op, "create");
});

Deno.test("put() creates, then replaces the whole item; keepMeta keeps created/updated/_version", async () => {
  await using t = await tempDb();
  t.db.put("Reading", { ...KEY, value: 1, note: "a" });
  const r = t.db.put("Reading", { ...KEY, value: 2 });
  assert.equal(r._version, 2);
  assert.equal("note" in r, false);
  const kept = t.db.put("Reading", {
    ...KEY,
    value: 3,
    created: "2020-01-01T00:00:00Z",
    updated: "2021-01-01T00:00:00Z",
    _version: 9,
  }, { keepMeta: true, origin: "cloud" });
  assert.equal(kept.created, "2020-01-01T00:00:00.000Z");
  assert.equal(kept._version, 9);
  assert.equal(t.db.changes().at(-1)!.origin, "cloud");
  dbError(() => t.db.put("Reading", { ...KEY, value: 4 }, { ifVersion: 3 }), "conflict");
});

Deno.test("remove() deletes and returns the item; ifVersion and not_found", async () => {
  await using t = await tempDb();
  t.db.create("Reading", { ...KEY, value: 1 });
  dbError(() => t.db.remove("Reading", KEY, { ifVersion: 5 }), "conflict");
  const gone = t.db.remove("Reading", KEY, { ifVersion: 1 });
  assert.equal(gone.value, 1);
  assert.equal(t.db.get("Reading", KEY), undefined);
  dbError(() => t.db.remove("Reading", KEY), "not_found");
  const last = t.db.changes().at(-1)!;
  assert.equal(last.op, "delete");
  assert.equal(last.version, 2);
});

Deno.test("unknown fields are rejected with the field name, not dropped", async () => {
  await using t = await tempDb();
  const e = dbError(() => t.db.create("Reading", { ...KEY, valeu: 1 }), "validation");
  assert.equal(e.field, "valeu");
  assert.equal((e as DbError).model, "Reading");
  assert.match(e.message, /did you mean "value"/);
  dbError(() => t.db.update("Reading", KEY, { colour: 1 }, { upsert: true }), "validation");
  assert.equal(t.db.lastSeq(), 0);
});

Deno.test("unknown models get a suggestion", async () => {
  await using t = await tempDb();
  const e = dbError(() => t.db.get("Readng", KEY), "unknown_model");
  assert.equal(e.message, 'Unknown model "Readng" (did you mean "Reading"?)');
});

Deno.test("items over 400 KB are too_large and not stored", async () => {
  await using t = await tempDb();
  const big = Array.from({ length: 3 }, () => ({ blob: "x".repeat(140 * 1024) }));
  const e = dbError(() => t.db.create("Reading", { ...KEY, tags: big }), "too_large");
  assert.match(e.message, /DynamoDB allows 409600/);
  assert.equal(t.db.get("Reading", KEY), undefined);
  t.db.create("Reading", { ...KEY, tags: big.slice(0, 2) });
});

Deno.test("transaction() commits all writes or none, and nests with savepoints", async () => {
  await using t = await tempDb();
  assert.throws(() =>
    t.db.transaction(() => {
      t.db.create("Reading", { ...KEY, value: 1 });
      t.db.create("Reading", { ...KEY, deviceId: "d2", value: 1 });
      throw new Error("boom");
    }), /boom/);
  assert.equal(t.db.count("Reading"), 0);
  assert.equal(t.db.lastSeq(), 0);
  const n = t.db.transaction(() => {
    t.db.create("Reading", { ...KEY, value: 1 });
    try {
      t.db.transaction(() => {
        t.db.create("Reading", { ...KEY, deviceId: "d2" });
        t.db.create("Reading", { ...KEY, value: 2 }); // conflict: rolls back the inner block only
      });
    } catch (e) {
      assert.ok(e instanceof DbError && e.code === "conflict");
    }
    return t.db.count("Reading");
  });
  assert.equal(n, 1);
  assert.equal(t.db.count("Reading"), 1);
  assert.deepEqual(t.db.changes().map((c) => c.seq), [1]);
});

Deno.test("transaction() refuses an async function and rolls back", async () => {
  await using t = await tempDb();
  assert.throws(
    () =>
      t.db.transaction(async () => {
        t.db.create("Reading", { ...KEY });
        await Promise.resolve();
      }),
    TypeError,
  );
  assert.equal(t.db.count("Reading"), 0);
});

Deno.test("db.sql and db.transaction() serve a subsystem's own table in the same file", async () => {
  await using t = await tempDb();
  t.db.sql.exec("CREATE TABLE IF NOT EXISTS mqtt_queue (id INTEGER PRIMARY KEY, topic TEXT)");
  const ins = t.db.sql.prepare("INSERT INTO mqtt_queue (topic) VALUES (?)");
  assert.throws(() =>
    t.db.transaction(() => {
      ins.run("a");
      t.db.create("Reading", { ...KEY });
      throw new Error("undo both");
    })
  );
  assert.equal(
    (t.db.sql.prepare("SELECT count(*) AS n FROM mqtt_queue").get() as { n: number }).n,
    0,
  );
  t.db.transaction(() => ins.run("b"));
  assert.equal(
    (t.db.sql.prepare("SELECT count(*) AS n FROM mqtt_queue").get() as { n: number }).n,
    1,
  );
});

Deno.test("a closed database refuses calls with code closed", async () => {
  await using t = await tempDb();
  t.db.close();
  dbError(() => t.db.get("Reading", KEY), "closed");
});

Deno.test("system models: define() with the schema format; user schema may not use _ names", async () => {
  await using t = await tempDb();
  t.db.define("_User", {
    pk: "User#${name}",
    fields: { name: { type: "string", required: true }, hash: { type: "string", hidden: true } },
  });
  t.db.create("_User", { name: "ada", hash: "x" });
  assert.equal(t.db.get("_User", { name: "ada" })!.hash, "x");
  assert.deepEqual(t.db.model("_User").hidden, ["hash"]);
  dbError(
    () => t.db.define("User", { pk: "U#${n}", fields: { n: { type: "string", required: true } } }),
    "schema",
  );
  dbError(() => t.db.define("_Bad", { pk: "U#${n}", fields: {} }), "schema");
  const e = dbError(
    () => Database.open({ path: ":memory:", schema: { _X: SCHEMA.Reading! }, purgeInterval: 0 }),
    "schema",
  );
  assert.match(e.message, /reserved for system models/);
});

Deno.test("ifVersion 0 means: only if the item does not exist yet", async () => {
  await using t = await tempDb();
  t.db.put("Reading", { ...KEY, value: 1 }, { ifVersion: 0 });
  dbError(() => t.db.put("Reading", { ...KEY, value: 2 }, { ifVersion: 0 }), "conflict");
  assert.equal(t.db.get("Reading", KEY)!.value, 1);
});

Deno.test("two connections to one file (agent and CLI) see each other's commits", async () => {
  await using t = await tempDb();
  const other = Database.open({ path: t.path, schema: SCHEMA, purgeInterval: 0 });
  try {
    other.create("Reading", { ...KEY, value: 1 });
    assert.equal(t.db.get("Reading", KEY)!.value, 1);
    t.db.update("Reading", KEY, { value: 2 });
    assert.equal(other.get("Reading", KEY)!._version, 2);
    assert.deepEqual(other.changes().map((c) => c.seq), [1, 2]);
  } finally {
    other.close();
  }
});

Deno.test("define() again with the same definition is a no-op; the item survives", async () => {
  await using t = await tempDb();
  const def = { pk: "S#${id}", fields: { id: { type: "string", required: true } } } as const;
  t.db.define("_S", def);
  t.db.create("_S", { id: "1" });
  t.db.define("_S", def);
  assert.ok(t.db.get("_S", { id: "1" }));
});

Deno.test("the file is in WAL mode with the chosen synchronous level", async () => {
  for (const [level, value] of [["NORMAL", 1], ["FULL", 2]] as const) {
    await using t = await tempDb({ synchronous: level });
    const mode = t.db.sql.prepare("PRAGMA journal_mode").get() as { journal_mode: string };
    const sync = t.db.sql.prepare("PRAGMA synchronous").get() as { synchronous: number };
    assert.equal(mode.journal_mode, "wal");
    assert.equal(sync.synchronous, value);
  }
});

Deno.test("a write lock held by another process past busyTimeout is DbError busy; nothing written", async () => {
  await using t = await tempDb({ busyTimeout: 50 });
  const other = new DatabaseSync(t.path);
  try {
    other.exec("BEGIN IMMEDIATE"); // e.g. a CLI run in the middle of a long write
    const e = dbError(() => t.db.create("Reading", { ...KEY, value: 1 }), "busy");
    assert.match(e.message, /locked by another process/);
    assert.match(String((e as Error).cause), /database is locked/);
    other.exec("ROLLBACK");
    assert.equal(t.db.get("Reading", KEY), undefined, "nothing was written");
    assert.deepEqual(t.db.changes(), [], "no change recorded");
    t.db.create("Reading", { ...KEY, value: 2 }); // the lock gone, the same write succeeds
    assert.equal(t.db.get("Reading", KEY)!.value, 2);
  } finally {
    other.close();
  }
});
