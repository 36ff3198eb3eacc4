/**
 * Hostile cloud items against down-sync (dynalite): a cloud application, a
 * person in the DynamoDB console or another tool writes items addressed to
 * the device, of a model synced down and of one synced both ways, that do
 * not fit the model — wrong attribute types, bad stamps
 * (`updated`, `_version`), keys that disagree with the fields, unknown or
 * local models, odd attribute names, sets, binary, stamps years ahead. After
 * each round of them:
 *
 * - the pass finishes (no item stalls down-sync) and a valid item of each
 *   model written with them, stamped now, is on the device: a stamp years
 *   ahead must not move the cursor past the items that follow it; a write
 *   made on the device meanwhile reached the table;
 * - the device wrote none of them back;
 * - every item of the model on the device fits the model (field types, its
 *   key, ISO stamps, a safe integer version);
 * - an item the model refuses changed nothing: its key is not on the device;
 * - `integrity_check` is ok.
 *
 * Seeded (`TERN_FUZZ_SEED` replays a run, `TERN_FUZZ_ROUNDS` lengthens it).
 */

import assert from "node:assert/strict";
import { type AttributeValue, PutItemCommand, ScanCommand } from "@aws-sdk/client-dynamodb";
import { downCursorKey, SyncState } from "../sync/mod.ts";
import { seeded } from "./helpers/seeded.ts";
import { cloudGet, iso, T0, TABLE } from "./sync_helpers.ts";
import { syncSetup } from "./sync_setup.ts";

type Attrs = Record<string, AttributeValue>;
/** What the device must show for a hostile item: nothing at its key, or anything that fits. */
type Expect = "absent" | "any";

const S = (s: string): AttributeValue => ({ S: s });
const N = (n: string): AttributeValue => ({ N: n });

/** An own attribute even named `__proto__` (an assignment would set the prototype). */
function own(a: Attrs, name: string, value: AttributeValue): void {
  Object.defineProperty(a, name, { value, enumerable: true, writable: true, configurable: true });
}

/** A model of tests/sync_helpers.ts's schema as the mutations see it. */
interface Shape {
  model: "Notice" | "Setting";
  /** The fields the key is made of (partition, sort), and the free text field. */
  a: string;
  b: string;
  text: string;
  pk: string;
  sk: (b: string) => string;
}

const NOTICE: Shape = {
  model: "Notice",
  a: "target",
  b: "id",
  text: "text",
  pk: "Notice#d1",
  sk: (b) => b,
};
const SETTING: Shape = {
  model: "Setting",
  a: "deviceId",
  b: "name",
  text: "value",
  pk: "Device#d1",
  sk: (b) => `Setting#${b}`,
};

/** An item of `m` for d1 as a cloud application writes it, stamped `at`. */
function valid(m: Shape, b: string, at: number): Attrs {
  return {
    pk: S(m.pk),
    sk: S(m.sk(b)),
    _model: S(m.model),
    _to: S("d1"),
    updated: S(iso(at)),
    _version: N("1"),
    [m.a]: S("d1"),
    [m.b]: S(b),
    [m.text]: S(`text ${b}`),
  };
}

type Mutate = (a: Attrs, now: number, m: Shape) => void;

/** One change that breaks (or stretches) an item, and what the device must show for it. */
const MUTATIONS: [string, Expect, Mutate][] = [
  ["updated not a date", "absent", (a) => a.updated = S("yesterday")],
  ["updated empty", "absent", (a) => a.updated = S("")],
  ["updated a number", "absent", (a, now) => a.updated = N(String(now))],
  ["updated a boolean", "absent", (a) => a.updated = { BOOL: true }],
  ["updated missing", "absent", (a) => delete a.updated],
  ["updated years ahead", "any", (a, now) => a.updated = S(iso(now + 10 * 365 * 86_400_000))],
  ["updated at the epoch", "any", (a) => a.updated = S(iso(0))],
  ["updated without ms", "any", (a, now) => a.updated = S(iso(now).slice(0, 19) + "Z")],
  ["version text", "any", (a) => a._version = S("x")],
  ["version 0", "any", (a) => a._version = N("0")],
  ["version negative", "any", (a) => a._version = N("-5")],
  ["version fraction", "any", (a) => a._version = N("1.5")],
  ["version past 2^53", "any", (a) => a._version = N("9007199254740993")],
  ["version 1e300", "any", (a) => a._version = N("1e300")],
  ["version missing", "any", (a) => delete a._version],
  ["text a number", "absent", (a, _, m) => a[m.text] = N("42")],
  ["text a map", "absent", (a, _, m) => a[m.text] = { M: { a: S("b") } }],
  ["text a list", "absent", (a, _, m) => a[m.text] = { L: [S("a")] }],
  ["text a string set", "absent", (a, _, m) => a[m.text] = { SS: ["a", "b"] }],
  ["text a number set", "absent", (a, _, m) => a[m.text] = { NS: ["1", "2"] }],
  ["text a boolean", "absent", (a, _, m) => a[m.text] = { BOOL: false }],
  ["text binary", "any", (a, _, m) => a[m.text] = { B: new Uint8Array([0, 1, 255]) }],
  ["text null", "any", (a, _, m) => a[m.text] = { NULL: true }],
  ["text 300 KB", "any", (a, _, m) => a[m.text] = S("x".repeat(300_000))],
  ["text with NUL and controls", "any", (a, _, m) => a[m.text] = S("a\u0000b\u001b[31mc\ud800")],
  ["key field disagrees with pk", "absent", (a, _, m) => a[m.a] = S("d2")],
  ["key field missing", "absent", (a, _, m) => delete a[m.a]],
  ["sort field missing", "absent", (a, _, m) => delete a[m.b]],
  ["sort field disagrees with sk", "absent", (a, _, m) => a[m.b] = S("other")],
  ["sk as a model without one", "absent", (a) => a.sk = S("_")],
  ["model up-only", "absent", (a) => a._model = S("Reading")],
  ["model local-only", "absent", (a) => a._model = S("Local")],
  ["model unknown", "absent", (a) => a._model = S("Nope")],
  ["model __proto__", "absent", (a) => a._model = S("__proto__")],
  ["model the other one", "absent", (a, _, m) => a._model = S(m === NOTICE ? "Setting" : "Notice")],
  ["model a number", "absent", (a) => a._model = N("1")],
  ["model missing", "absent", (a) => delete a._model],
  ["attribute __proto__ map", "any", (a, _, m) => own(a, "__proto__", { M: { [m.text]: N("1") } })],
  ["attribute constructor", "any", (a) => own(a, "constructor", { M: { prototype: S("x") } })],
  ["attributes unknown", "any", (a) => {
    for (let i = 0; i < 50; i++) a[`extra${i}`] = { L: [N(String(i)), { NULL: true }] };
  }],
  ["deleted as text", "any", (a) => a._deleted = S("true")],
  ["deleted a number", "any", (a) => a._deleted = N("1")],
  ["created not a date", "any", (a) => a.created = S("long ago")],
  ["created a number", "any", (a) => a.created = N("0")],
  ["device a list", "any", (a) => a._device = { L: [] }],
  ["device this one", "any", (a) => a._device = S("d1")],
];

/** Apply `mutate` to `item`; the names of the attributes it added, changed or removed. */
function mutateItem(item: Attrs, mutate: Mutate, now: number, m: Shape): Set<string> {
  const before = new Map(Object.entries(item).map(([k, v]) => [k, JSON.stringify(v)]));
  mutate(item, now, m);
  const changed = new Set<string>();
  for (const k of new Set([...before.keys(), ...Object.keys(item)])) {
    const after = Object.hasOwn(item, k) ? JSON.stringify(item[k]) : undefined;
    if (before.get(k) !== after) changed.add(k);
  }
  return changed;
}

/** The device's items of `m` that do not fit the model (empty when all fit). */
function misfits(m: Shape, items: Iterable<{ item: Record<string, unknown> }>): string[] {
  const bad: string[] = [];
  const isoOk = (v: unknown) => typeof v === "string" && new Date(v).toISOString() === v;
  for (const { item: x } of items) {
    const text = x[m.text];
    const why = typeof x[m.a] !== "string" || typeof x[m.b] !== "string"
      ? "key fields"
      : text !== undefined && text !== null && typeof text !== "string"
      ? "text"
      : !isoOk(x.created) || !isoOk(x.updated)
      ? "stamps"
      : !Number.isSafeInteger(x._version) || (x._version as number) < 1
      ? "version"
      : Object.getPrototypeOf(x) !== Object.prototype
      ? "prototype"
      : undefined;
    if (why) bad.push(`${m.model} ${why}: ${JSON.stringify(x).slice(0, 200)}`);
  }
  return bad;
}

Deno.test("hostile cloud items: refused ones change nothing, none stalls sync", async () => {
  const { seed, rnd, pick } = seeded();
  const rounds = Number(Deno.env.get("TERN_FUZZ_ROUNDS") ?? 6);
  await using s = await syncSetup({ start: T0, sync: { overlap: 60_000 } });
  const { agent: a, cloud, clock } = s;
  const put = (item: Attrs) => cloud.send(new PutItemCommand({ TableName: TABLE, Item: item }));
  /** Writes a hostile item; false when DynamoDB itself refused it (e.g. an index key's type). */
  const putHostile = async (item: Attrs): Promise<boolean> => {
    try {
      await put(item);
      return true;
    } catch (e) {
      if ((e as Error).name === "ValidationException") return false;
      throw e;
    }
  };
  /** Hostile items the device must not hold: "Model/b" → the mutation's name. */
  const absent = new Map<string, string>();
  /** Sort keys of hostile items written with `_device` d1 already. */
  const stamped = new Set<string>();
  let n = 0;
  for (let round = 0; round < rounds; round++) {
    await clock.advance(10 * 60_000);
    const now = clock.now();
    const count = 30 + Math.floor(rnd() * 30);
    for (let i = 0; i < count; i++) {
      const m = i % 2 ? SETTING : NOTICE;
      const b = `h${n++}`;
      const item = valid(m, b, now - Math.floor(rnd() * 30_000));
      // Every mutation once on each model, then at random.
      const first = round === 0 && i < 2 * MUTATIONS.length ? MUTATIONS[i >> 1]! : pick(MUTATIONS);
      // A second mutation now and then: bad things come together.
      const applied = rnd() < 0.3 ? [first, pick(MUTATIONS)] : [first];
      // Refused when a refused mutation's attributes were not rewritten by a later one.
      let refused: { name: string; attrs: Set<string> } | undefined;
      for (const [name, expect, mutate] of applied) {
        const changed = mutateItem(item, mutate, now, m);
        if (refused && [...changed].some((k) => refused!.attrs.has(k))) refused = undefined;
        if (expect === "absent") refused = { name, attrs: changed };
      }
      if (!await putHostile(item)) continue;
      if (refused) absent.set(`${m.model}/${b}`, refused.name);
      if (item._device?.S === "d1") stamped.add(item.sk?.S ?? "");
    }
    const good = `good${round}`;
    await put(valid(NOTICE, good, now));
    await put(valid(SETTING, good, now));
    const local = `local${round}`;
    a.db.create("Setting", { deviceId: "d1", name: local, value: "from the device" });
    const why = `seed ${seed}, round ${round}`;
    await a.engine.syncNow();
    for (const m of [NOTICE, SETTING]) {
      assert.equal(
        a.db.get(m.model, { [m.a]: "d1", [m.b]: good })?.[m.text],
        `text ${good}`,
        `${why}: the valid ${m.model} written with the hostile ones did not arrive`,
      );
    }
    assert.equal(
      (await cloudGet(cloud, SETTING.pk, SETTING.sk(local)))?.value,
      "from the device",
      `${why}: the device's own write did not reach the table`,
    );
    const state = new SyncState(a.db.sql);
    for (const address of ["d1", "*"]) {
      const cursor = state.get(downCursorKey(TABLE, address));
      assert.ok(
        cursor === undefined || Date.parse(cursor) <= clock.now(),
        `${why}: the down cursor of "${address}", ${cursor}, is ahead of the device's clock`,
      );
    }
    for (const m of [NOTICE, SETTING]) {
      const items = [...a.db.items(m.model)];
      assert.deepEqual(misfits(m, items), [], why);
      for (const { item } of items) {
        const name = absent.get(`${m.model}/${item[m.b]}`);
        if (name) {
          assert.fail(`${why}: a "${name}" ${m.model} was applied: ${JSON.stringify(item)}`);
        }
      }
    }
    // Nothing hostile was written back: what the device sends carries `_device` d1.
    const echoed: string[] = [];
    let start: Attrs | undefined;
    do {
      const page = await cloud.send(
        new ScanCommand({ TableName: TABLE, ...(start ? { ExclusiveStartKey: start } : {}) }),
      );
      for (const x of page.Items ?? []) {
        const sk = x.sk?.S ?? "";
        if (x._device?.S === "d1" && !sk.includes("local") && !stamped.has(sk)) echoed.push(sk);
      }
      start = page.LastEvaluatedKey;
    } while (start);
    assert.deepEqual(echoed, [], `${why}: the device wrote hostile items back`);
  }
  const [{ integrity_check }] = a.db.sql.prepare("PRAGMA integrity_check").all() as [
    { integrity_check: string },
  ];
  assert.equal(integrity_check, "ok");
});
