import assert from "node:assert/strict";
import { Model } from "./model.ts";
import { encodeNext, planFind } from "./query.ts";
import { DbError } from "./errors.ts";

const m = new Model(
  "Ev",
  Model.parse("Ev", {
    pk: "Dev#${dev}",
    sk: "${day}#${seq}",
    fields: {
      dev: { type: "string", required: true },
      day: { type: "date", required: true },
      seq: { type: "string", required: true },
    },
  }),
);

Deno.test("planFind() turns a range on a field with key text after it into bounds around its group", () => {
  const plan = planFind(m, { dev: "a", day: { lte: "2024-01-02" } }, {}, 0);
  assert.deepEqual(plan.params.slice(0, 2), ["Ev", "Dev#a"]);
  // lte includes every sk of that day; the lower bound is the template's empty prefix.
  assert.ok(plan.params.includes("2024-01-02T00:00:00.000Z\u{10FFFF}"));
  assert.match(plan.sql, /ORDER BY i\.pk, i\.sk LIMIT \?$/);
});

Deno.test("planFind() with every key field is an exact match on the sort key", () => {
  const plan = planFind(m, { dev: "a", day: "2024-01-02", seq: "x" }, {}, 0);
  assert.match(plan.sql, /i\.sk = \?/);
  assert.ok(plan.params.includes("2024-01-02T00:00:00.000Z#x"));
});

Deno.test("the next cursor round-trips and a tampered one is refused", () => {
  const next = encodeNext(["Dev#a", "2024#é"]);
  assert.match(next, /^[A-Za-z0-9_-]+$/);
  const plan = planFind(m, { dev: "a" }, { next, reverse: true }, 0);
  assert.match(plan.sql, /\(i\.pk, i\.sk\) < \(\?, \?\)/);
  assert.ok(plan.params.includes("2024#é"));
  assert.throws(() => planFind(m, { dev: "a" }, { next: encodeNext(["x"]) }, 0), DbError);
});

Deno.test("planFind() refuses a range that is not the last given sort key field", () => {
  assert.throws(
    () => planFind(m, { dev: "a", day: { gte: "2024-01-01" }, seq: "x" }, {}, 0),
    /must be the last sort key field/,
  );
});
