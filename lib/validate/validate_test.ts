import assert from "node:assert/strict";
import * as z from "./mod.ts";

function issues(s: z.Schema<unknown, unknown>, v: unknown): z.Issue[] {
  const r = s.safeParse(v);
  assert.equal(r.success, false, `expected ${JSON.stringify(v)} to be refused`);
  return r.error!.issues;
}

Deno.test("primitives accept their type and report the type they expected", () => {
  assert.equal(z.string().parse("a"), "a");
  assert.equal(z.number().parse(1.5), 1.5);
  assert.equal(z.boolean().parse(false), false);
  assert.deepEqual(issues(z.string(), 1), [{
    code: "invalid_type",
    path: [],
    expected: "string",
    message: "Expected string, received number",
  }]);
  for (const v of [NaN, Infinity, -Infinity, "1"]) {
    assert.equal(issues(z.number(), v)[0]!.expected, "number");
  }
  assert.equal(issues(z.number().int(), 1.5)[0]!.expected, "integer");
  assert.equal(issues(z.boolean(), null)[0]!.message, "Expected boolean, received null");
});

Deno.test("string and number bounds report the bound, its kind and a custom message", () => {
  const s = z.string().min(2).max(3, "short please");
  assert.equal(s.parse("abc"), "abc");
  const small = issues(s, "a")[0]!;
  assert.deepEqual([small.code, small.minimum, small.origin, small.inclusive], [
    "too_small",
    2,
    "string",
    true,
  ]);
  assert.equal(issues(s, "abcd")[0]!.message, "short please");
  assert.equal(issues(z.number().min(1).max(9), 10)[0]!.maximum, 9);
  assert.equal(issues(z.number().nonnegative(), -1)[0]!.minimum, 0);
  const pos = issues(z.number().positive(), 0)[0]!;
  assert.equal(pos.inclusive, false);
  // Every failed check is reported, not only the first.
  assert.equal(issues(z.number().int().min(5), 1.5).length, 2);
});

Deno.test("formats: regex, prefixes, URL; trim and lower-case transform", () => {
  const name = z.string().regex(/^[a-z]+$/, "letters");
  assert.equal(issues(name, "A1")[0]!.message, "letters");
  assert.equal(issues(z.string().startsWith("/"), "x")[0]!.code, "invalid_format");
  assert.equal(issues(z.string().endsWith(".js"), "x")[0]!.code, "invalid_format");
  assert.equal(z.url().parse("https://a.example/x"), "https://a.example/x");
  assert.equal(issues(z.url(), "not a url")[0]!.message, "a URL");
  assert.equal(z.string().trim().toLowerCase().min(2).parse("  AB "), "ab");
  // A global regex keeps no state between values.
  const g = z.string().regex(/a/g);
  assert.equal(g.parse("a"), "a");
  assert.equal(g.parse("a"), "a");
});

Deno.test("enum and literal list the allowed values", () => {
  const e = z.enum(["a", "b"]);
  assert.equal(e.parse("b"), "b");
  assert.deepEqual(issues(e, "c")[0], {
    code: "invalid_value",
    path: [],
    values: ["a", "b"],
    message: 'Expected one of "a", "b"',
  });
  assert.equal(z.literal(4).parse(4), 4);
  assert.deepEqual(issues(z.literal(4), 5)[0]!.values, [4]);
});

Deno.test("strict objects report unknown keys; plain objects drop them", () => {
  const shape = { a: z.string(), b: z.number().optional() };
  assert.deepEqual(z.object(shape).parse({ a: "x", zz: 1 }), { a: "x" });
  assert.deepEqual(issues(z.strictObject(shape), { a: "x", zz: 1, yy: 2 }), [{
    code: "unrecognized_keys",
    path: [],
    keys: ["zz", "yy"],
    message: 'Unrecognized key(s): "zz", "yy"',
  }]);
  // Arrays, null and class instances are not objects.
  for (const v of [[], null, new Date(0)]) {
    assert.equal(issues(z.object(shape), v)[0]!.expected, "object");
  }
  // An absent optional key stays absent.
  assert.equal("b" in z.object(shape).parse({ a: "x" }), false);
});

Deno.test("nested problems carry the full path, and every one is reported", () => {
  const s = z.strictObject({
    list: z.array(z.strictObject({ n: z.number() })).min(1),
    map: z.record(z.string().regex(/^[a-z]+$/), z.boolean()),
  });
  const got = issues(s, { list: [{ n: 1 }, { n: "2" }], map: { ok: true, Bad: true, no: 1 } });
  assert.deepEqual(got.map((i) => [i.code, i.path]), [
    ["invalid_type", ["list", 1, "n"]],
    ["invalid_key", ["map", "Bad"]],
    ["invalid_type", ["map", "no"]],
  ]);
  assert.equal(got[1]!.issues![0]!.code, "invalid_format");
  assert.equal(issues(s, { list: [], map: {} })[0]!.code, "too_small");
});

Deno.test("default fills undefined with a fresh copy; prefault validates its value", () => {
  const d = z.array(z.string()).default(["a"]);
  const one = d.parse(undefined);
  one.push("b");
  assert.deepEqual(d.parse(undefined), ["a"]);
  const section = z.strictObject({ port: z.number().default(80), host: z.string().default("h") })
    .prefault({});
  assert.deepEqual(section.parse(undefined), { port: 80, host: "h" });
  assert.deepEqual(section.parse({ port: 81 }), { port: 81, host: "h" });
  // A default is not validated; a prefault is.
  assert.equal(z.number().min(5).default(1).parse(undefined), 1);
  assert.equal(issues(z.number().min(5).prefault(1), undefined)[0]!.code, "too_small");
});

Deno.test("optional, nullable and readonly", () => {
  assert.equal(z.string().optional().parse(undefined), undefined);
  assert.equal(z.string().nullable().parse(null), null);
  assert.equal(issues(z.string().optional(), null)[0]!.code, "invalid_type");
  const frozen = z.array(z.number()).readonly().parse([1]);
  assert.ok(Object.isFrozen(frozen));
});

Deno.test("refine and superRefine add issues at relative paths; when runs them on invalid input", () => {
  const even = z.number().refine((n) => n % 2 === 0, "an even number");
  assert.equal(issues(even, 3)[0]!.message, "an even number");
  const pair = z.strictObject({ a: z.number(), b: z.number() }).superRefine((v, ctx) => {
    if (v.a > v.b) ctx.addIssue({ code: "custom", path: ["a"], message: "a ≤ b" });
  });
  assert.deepEqual(issues(z.strictObject({ p: pair }), { p: { a: 2, b: 1 } })[0]!.path, ["p", "a"]);
  // Without `when`, a refinement waits for a valid value...
  assert.equal(issues(pair, { a: 2, b: "x" }).length, 1);
  // ... with it, it also sees the raw input of an invalid one.
  const always = z.strictObject({ a: z.number() }).superRefine((v, ctx) => {
    if ((v as { b?: unknown }).b !== undefined) ctx.addIssue({ message: "no b" });
  }, { when: () => true });
  assert.deepEqual(issues(always, { a: "x", b: 1 }).map((i) => i.message), [
    "Expected number, received string",
    'Unrecognized key(s): "b"',
    "no b",
  ]);
});

Deno.test("union: one type list when no option matches the type, else the nearest option's problems", () => {
  const scalar = z.union([z.string(), z.number(), z.boolean()]);
  assert.equal(scalar.parse(1), 1);
  assert.equal(issues(scalar, null)[0]!.expected, "string, number or boolean");
  const proxy = z.union([z.enum(["env", "none"]), z.string().regex(/^http:/, "a proxy URL")]);
  assert.equal(
    issues(proxy, "ftp:")[0]!.message,
    'one of "env", "none", or a proxy URL',
  );
  assert.deepEqual(issues(z.union([z.literal(4), z.literal(5)]), 6)[0]!.values, [4, 5]);
  const obj = z.union([z.number(), z.strictObject({ n: z.number() })]);
  assert.deepEqual(issues(obj, { n: "x" })[0]!.path, ["n"]);
});

Deno.test("parse throws SchemaError naming every path; __proto__ stays plain data", () => {
  const s = z.strictObject({ a: z.string(), b: z.strictObject({ c: z.number() }) });
  assert.throws(() => s.parse({ a: 1, b: { c: "x" } }), (e: unknown) => {
    assert.ok(e instanceof z.SchemaError);
    assert.equal(e.name, "SchemaError");
    assert.equal(
      e.message,
      "a: Expected string, received number; b.c: Expected number, received string",
    );
    return true;
  });
  const rec = z.record(z.string(), z.number()).parse(JSON.parse('{"__proto__": 1}'));
  assert.equal(Object.getPrototypeOf(rec), Object.prototype);
  assert.equal(Object.getOwnPropertyDescriptor(rec, "__proto__")?.value, 1);
});

Deno.test("keysAt walks wrappers, arrays and records to the object at a path", () => {
  const s = z.strictObject({
    web: z.strictObject({ listen: z.array(z.string()), tls: z.strictObject({ cert: z.string() }) })
      .optional(),
    models: z.record(z.string(), z.strictObject({ pk: z.string() })).default({}),
  });
  assert.deepEqual(z.keysAt(s, []), ["web", "models"]);
  assert.deepEqual(z.keysAt(s, ["web"]), ["listen", "tls"]);
  assert.deepEqual(z.keysAt(s, ["web", "tls"]), ["cert"]);
  assert.deepEqual(z.keysAt(s, ["models", "Reading"]), ["pk"]);
  assert.deepEqual(z.keysAt(s, ["web", "listen", 0]), []);
});

Deno.test("types: infer gives the output, input makes defaulted keys optional", () => {
  const s = z.strictObject({
    a: z.string().default("x"),
    b: z.number().optional(),
    c: z.boolean(),
  });
  const out: z.infer<typeof s> = s.parse({ c: true });
  const needs: { a: string; c: boolean } = out;
  const input: z.input<typeof s> = { c: false };
  assert.deepEqual([needs, input], [{ a: "x", c: true }, { c: false }]);
});
