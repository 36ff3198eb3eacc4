/** find(): key-prefix and range queries, paging, reverse, indexes, where. */

import assert from "node:assert/strict";
import { type Database } from "../lib/db/mod.ts";
import { dbError, tempDb } from "./db_helpers.ts";

function seed(db: Database, days = 10): void {
  db.transaction(() => {
    for (let d = 1; d <= days; d++) {
      for (const dev of ["d1", "d2"]) {
        db.create("Reading", {
          deviceId: dev,
          time: new Date(Date.UTC(2024, 5, d)),
          value: d % 4,
          ok: d % 2 === 0,
        });
      }
    }
  });
}
const days = (items: Record<string, unknown>[]) =>
  items.map((i) => Number((i.time as string).slice(8, 10)));

Deno.test("find() by partition key returns that partition in sort-key order", async () => {
  await using t = await tempDb();
  seed(t.db);
  const page = t.db.find("Reading", { deviceId: "d2" });
  assert.deepEqual(days(page.items), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.ok(page.items.every((i) => i.deviceId === "d2"));
  assert.equal(page.next, undefined);
});

Deno.test("find() ranges over a sort-key field: gte/lt, between, gt/lte, beginsWith", async () => {
  await using t = await tempDb();
  seed(t.db);
  const q = (time: unknown) => days(t.db.find("Reading", { deviceId: "d1", time }).items);
  assert.deepEqual(q({ gte: "2024-06-03", lt: "2024-06-06" }), [3, 4, 5]);
  assert.deepEqual(q({ between: ["2024-06-08T00:00:00Z", "2024-06-10T00:00:00Z"] }), [8, 9, 10]);
  assert.deepEqual(q({ gt: "2024-06-08T00:00:00Z" }), [9, 10]);
  assert.deepEqual(q({ lte: "2024-06-02T00:00:00Z" }), [1, 2]);
  assert.deepEqual(q({ beginsWith: "2024-06-0" }), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(q("2024-06-04T00:00:00Z"), [4]);
  // The raw sort key works too.
  const raw = t.db.find("Reading", { pk: "Sensor#d1", sk: { beginsWith: "Reading#2024-06-1" } });
  assert.deepEqual(days(raw.items), [10]);
});

Deno.test("find() pages with next until the range is exhausted, forwards and in reverse", async () => {
  await using t = await tempDb();
  seed(t.db);
  for (const reverse of [false, true]) {
    const seen: number[] = [];
    let next: string | undefined;
    let pages = 0;
    do {
      const page = t.db.find("Reading", { deviceId: "d1" }, {
        limit: 3,
        reverse,
        ...(next ? { next } : {}),
      });
      seen.push(...days(page.items));
      next = page.next;
      pages++;
    } while (next);
    const all = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    assert.deepEqual(seen, reverse ? all.reverse() : all);
    assert.equal(pages, 4);
  }
});

Deno.test("find() without a partition key scans the model; a partial partition key is refused", async () => {
  await using t = await tempDb();
  seed(t.db, 2);
  assert.equal(t.db.find("Reading").items.length, 4);
  t.db.define("_Pair", {
    pk: "P#${a}#${b}",
    fields: { a: { type: "string", required: true }, b: { type: "string", required: true } },
  });
  const e = dbError(() => t.db.find("_Pair", { a: "x" }), "validation");
  assert.match(e.message, /needs every partition key field \(a, b\); missing b/);
});

Deno.test("find() on a local secondary index orders by the index sort key", async () => {
  await using t = await tempDb();
  seed(t.db);
  const page = t.db.find("Reading", { deviceId: "d1", value: 3 }, { index: "byValue" });
  assert.deepEqual(days(page.items), [3, 7]);
  const byValue = t.db.find("Reading", { deviceId: "d1" }, { index: "byValue", limit: 4 });
  assert.deepEqual(byValue.items.map((i) => i.value), [0, 0, 1, 1]);
  const rest = t.db.find("Reading", { deviceId: "d1" }, { index: "byValue", next: byValue.next! });
  assert.deepEqual(rest.items.map((i) => i.value), [1, 2, 2, 2, 3, 3]);
  // An updated item moves in the index.
  t.db.update("Reading", { deviceId: "d1", time: "2024-06-03" }, { value: 0 });
  assert.deepEqual(
    days(t.db.find("Reading", { deviceId: "d1", value: 0 }, { index: "byValue" }).items),
    [3, 4, 8],
  );
  dbError(() => t.db.find("Reading", { deviceId: "d1" }, { index: "byValeu" }), "validation");
});

Deno.test("find() where filters after the key query and still fills the page", async () => {
  await using t = await tempDb();
  seed(t.db);
  const p1 = t.db.find("Reading", { deviceId: "d1" }, { where: { ok: true }, limit: 2 });
  assert.deepEqual(days(p1.items), [2, 4]);
  const p2 = t.db.find("Reading", { deviceId: "d1" }, {
    where: { ok: true },
    limit: 2,
    next: p1.next!,
  });
  assert.deepEqual(days(p2.items), [6, 8]);
  const p3 = t.db.find("Reading", { deviceId: "d1" }, {
    where: (i) => (i.value as number) > 2,
  });
  assert.deepEqual(days(p3.items), [3, 7]);
  dbError(() => t.db.find("Reading", { deviceId: "d1" }, { where: { okk: true } }), "validation");
});

Deno.test("find() explains a query on a non-key field and a bad cursor", async () => {
  await using t = await tempDb();
  const e = dbError(() => t.db.find("Reading", { deviceId: "d1", value: 3 }), "validation");
  assert.match(e.message, /Field "value" is not part of the key of "Reading": filter with where/);
  dbError(() => t.db.find("Reading", { deviceId: "d1" }, { next: "garbage" }), "validation");
  dbError(() => t.db.find("Reading", {}, { limit: 0 }), "validation");
});

Deno.test("ranges on a field followed by more key text include or exclude its whole group", async () => {
  await using t = await tempDb();
  t.db.define("_Ev", {
    pk: "Dev#${dev}",
    sk: "${day}#${seq}",
    fields: {
      dev: { type: "string", required: true },
      day: { type: "string", required: true },
      seq: { type: "string", required: true },
    },
  });
  for (const day of ["2024-01-01", "2024-01-02", "2024-01-03"]) {
    for (const seq of ["a", "b"]) t.db.create("_Ev", { dev: "x", day, seq });
  }
  const q = (day: unknown) =>
    t.db.find("_Ev", { dev: "x", day }).items.map((i) => `${i.day}/${i.seq}`);
  assert.deepEqual(q({ lte: "2024-01-02" }), [
    "2024-01-01/a",
    "2024-01-01/b",
    "2024-01-02/a",
    "2024-01-02/b",
  ]);
  assert.deepEqual(q({ gt: "2024-01-02" }), ["2024-01-03/a", "2024-01-03/b"]);
  assert.deepEqual(q({ lt: "2024-01-02" }), ["2024-01-01/a", "2024-01-01/b"]);
  assert.deepEqual(
    t.db.find("_Ev", { dev: "x", day: "2024-01-02" }).items.map((i) => i.seq),
    ["a", "b"],
  );
  assert.deepEqual(
    t.db.find("_Ev", { dev: "x", day: "2024-01-02", seq: "b" }).items.map((i) => i.seq),
    ["b"],
  );
});
