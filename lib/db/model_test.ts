import assert from "node:assert/strict";
import { Model } from "./model.ts";
import { DbError } from "./errors.ts";
import { ulidFactory } from "./ulid.ts";
import { Template } from "./template.ts";

const def = Model.parse("Reading", {
  pk: "Sensor#${deviceId}",
  sk: "Reading#${time}",
  fields: {
    deviceId: { type: "string", required: true },
    time: { type: "date", required: true },
    value: { type: "number", min: 0, max: 10 },
    unit: { type: "string", enum: ["C", "F"], default: "C" },
    id: { type: "string", generate: "uuid" },
    secret: { type: "string", hidden: true },
  },
});
const m = new Model("Reading", def);
const ids = (k: "ulid" | "uuid") => `${k}-1`;

function fails(fn: () => unknown, field: string | undefined, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DbError);
    assert.equal(e.code, "validation");
    assert.equal(e.model, "Reading");
    assert.equal(e.field, field);
    assert.match(e.message, re);
    return true;
  });
}

Deno.test("prepare() fills defaults and generated ids and normalizes dates to ISO UTC", () => {
  const f = m.prepare({ deviceId: "d1", time: "2024-05-01T14:00:00+02:00" }, ids);
  assert.deepEqual(f, {
    deviceId: "d1",
    time: "2024-05-01T12:00:00.000Z",
    unit: "C",
    id: "uuid-1",
  });
  assert.deepEqual(m.keyOf(f), { pk: "Sensor#d1", sk: "Reading#2024-05-01T12:00:00.000Z" });
});

Deno.test("prepare() names the model and field of each problem", () => {
  fails(
    () => m.prepare({ deviceId: "d1", time: "2024-05-01", valeu: 1 }, ids),
    "valeu",
    /Unknown field "valeu" in "Reading" \(did you mean "value"\?\)/,
  );
  fails(
    () => m.prepare({ time: "2024-05-01" }, ids),
    "deviceId",
    /Missing required field "deviceId"/,
  );
  fails(
    () => m.prepare({ deviceId: "d1", time: "2024-05-01", value: 11 }, ids),
    "value",
    /expected a number ≤ 10, found number 11/,
  );
  fails(
    () => m.prepare({ deviceId: "d1", time: "2024-05-01", unit: "K" }, ids),
    "unit",
    /expected one of "C", "F", found string "K"/,
  );
  fails(() => m.prepare({ deviceId: "d1", time: "yesterday" }, ids), "time", /ISO 8601/);
  fails(
    () => m.prepare({ deviceId: "d1", time: "2024-05-01", created: "x" }, ids),
    "created",
    /set by the database/,
  );
  fails(() => m.prepare([1], ids), undefined, /must be an object/);
});

Deno.test("patch() removes fields with null and refuses to change key fields", () => {
  const stored = m.prepare({ deviceId: "d1", time: "2024-05-01", value: 3 }, ids);
  const next = m.patch(stored, { value: null, secret: "s" }, ids);
  assert.equal(next.value, undefined);
  assert.equal(next.secret, "s");
  fails(() => m.patch(stored, { time: "2024-06-01" }, ids), "time", /part of the key/);
  fails(() => m.patch(stored, { deviceId: null }, ids), "deviceId", /Missing required/);
});

Deno.test("resolveKey() accepts key fields or the raw pk/sk and rejects other fields", () => {
  assert.deepEqual(m.resolveKey({ deviceId: "d1", time: new Date(Date.UTC(2024, 4, 1)) }), {
    pk: "Sensor#d1",
    sk: "Reading#2024-05-01T00:00:00.000Z",
  });
  assert.deepEqual(m.resolveKey({ pk: "a", sk: "b" }), { pk: "a", sk: "b" });
  fails(() => m.resolveKey({ deviceId: "d1" }), "time", /Missing key field "time"/);
  fails(
    () => m.resolveKey({ deviceId: "d1", time: "2024-05-01", value: 1 }),
    "value",
    /not part of the key/,
  );
});

Deno.test("keys over 1 KB are too large for DynamoDB", () => {
  assert.throws(
    () => m.resolveKey({ deviceId: "é".repeat(600), time: "2024-05-01" }),
    (e: unknown) => {
      assert.ok(e instanceof DbError);
      assert.equal(e.code, "too_large");
      assert.match(e.message, /Partition key of "Reading" is 1207 bytes \(DynamoDB allows 1024\)/);
      return true;
    },
  );
});

Deno.test("publicView() drops hidden fields", () => {
  assert.deepEqual(m.publicView({ deviceId: "d1", secret: "s" }), { deviceId: "d1" });
});

Deno.test("Model.parse() reports every problem of a definition with its path", () => {
  assert.throws(
    () => Model.parse("_User", { pk: "U#${nme}", fields: { name: { type: "strin" } } }),
    (e: unknown) => {
      assert.ok(e instanceof DbError);
      assert.equal(e.code, "schema");
      assert.match(e.message, /fields\.name\.type/);
      assert.match(e.message, /unknown field "nme", did you mean "name"/);
      return true;
    },
  );
});

Deno.test("Template renders literals and fields in order", () => {
  const t = new Template("A#${x}#${y}!");
  assert.deepEqual(t.fields, ["x", "y"]);
  assert.equal(t.render({ x: 1, y: true }), "A#1#true!");
});

Deno.test("ulidFactory() makes 26-character ids that sort in creation order within a millisecond", () => {
  let now = 1_700_000_000_000;
  const ulid = ulidFactory(() => now);
  const a = Array.from({ length: 100 }, () => ulid());
  now += 1;
  a.push(ulid());
  assert.ok(a.every((id) => /^[0-9A-HJKMNP-TV-Z]{26}$/.test(id)));
  assert.deepEqual([...a].sort(), a);
  assert.equal(new Set(a).size, a.length);
  assert.equal(a[0]!.slice(0, 10), "01HF7YAT00");
});
