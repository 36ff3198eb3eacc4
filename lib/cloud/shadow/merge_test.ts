import { deepEqual, equal } from "node:assert/strict";
import { apply, delta, depth, diff, merge3 } from "./merge.ts";

Deno.test("apply() merges objects, deletes on null, replaces arrays and prunes empty objects", () => {
  deepEqual(
    apply({ a: 1, b: { c: 1, d: 2 }, l: [1, 2] }, { a: null, b: { c: null, e: 3 }, l: [3] }),
    { b: { d: 2, e: 3 }, l: [3] },
  );
  deepEqual(apply({ b: { c: 1 } }, { b: { c: null } }), {});
});

Deno.test("diff() gives the patch apply() needs, with null for removed keys", () => {
  const from = { a: 1, b: { c: 1, d: 2 }, z: true };
  const to = { a: 2, b: { c: 1 }, n: [1] };
  const d = diff(from, to);
  deepEqual(d, { a: 2, b: { d: null }, n: [1], z: null });
  deepEqual(apply(from, d), to);
  deepEqual(diff(to, to), {});
});

Deno.test("delta() lists desired fields reported does not match, nested", () => {
  deepEqual(delta({ a: 1, b: { c: 2, d: 3 }, e: 5 }, { a: 1, b: { c: 2, d: 4 } }), {
    b: { d: 3 },
    e: 5,
  });
});

Deno.test("merge3() takes one-sided changes from either side and the preferred side on both", () => {
  const base = { a: 1, b: 1, c: 1, gone: 1 };
  const local = { a: 2, b: 1, c: 3, gone: 1 };
  const cloud = { a: 1, b: 5, c: 4 };
  deepEqual(merge3(base, local, cloud, "local"), { a: 2, b: 5, c: 3 });
  deepEqual(merge3(base, local, cloud, "cloud"), { a: 2, b: 5, c: 4 });
  deepEqual(
    merge3({ n: { x: 1, y: 1 } }, { n: { x: 2, y: 1 } }, { n: { x: 1, y: 2 } }, "local"),
    { n: { x: 2, y: 2 } },
  );
});

Deno.test("depth() counts object and array levels", () => {
  equal(depth(1), 0);
  equal(depth({ a: 1 }), 1);
  equal(depth({ a: { b: [1] } }), 3);
});
