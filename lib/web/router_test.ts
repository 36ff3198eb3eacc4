import assert from "node:assert/strict";
import { Router } from "./router.ts";

Deno.test("router matches static, parameter and prefix routes with static first", () => {
  const r = new Router<string>();
  r.add("GET", "/api/data/:model", "list");
  r.add("GET", "/api/data/:model/:key", "item");
  r.add("GET", "/api/data/special", "special");
  r.add("GET", "/files/*", "files");
  r.add("*", "/any", "any");
  const m1 = r.match("GET", "/api/data/Reading");
  assert.ok(m1 && m1.value === "list");
  assert.deepEqual(m1.params, { model: "Reading" });
  const m2 = r.match("GET", "/api/data/Reading/abc");
  assert.ok(m2 && m2.value === "item");
  assert.deepEqual(m2.params, { model: "Reading", key: "abc" });
  const m3 = r.match("GET", "/api/data/special");
  assert.ok(m3 && m3.value === "special");
  const m4 = r.match("GET", "/files/a/b/c.txt");
  assert.ok(m4 && m4.value === "files");
  assert.equal(m4.params?.["*"], "a/b/c.txt");
  const m5 = r.match("DELETE", "/any");
  assert.ok(m5 && m5.value === "any");
  assert.equal(r.match("GET", "/api/data/"), null, "an empty segment is not a parameter");
  assert.equal(r.match("GET", "/nope"), null);
});

Deno.test("router reports allowed methods for a known path, with HEAD for GET", () => {
  const r = new Router<string>();
  r.add("GET", "/x", "g");
  r.add("POST", "/x", "p");
  const m = r.match("DELETE", "/x");
  assert.ok(m && m.value === undefined);
  assert.deepEqual(m.allowed, ["GET", "HEAD", "OPTIONS", "POST"]);
  const h = r.match("HEAD", "/x");
  assert.ok(h && h.value === "g", "HEAD falls back to GET");
});

Deno.test("router refuses duplicates and malformed patterns", () => {
  const r = new Router<string>();
  r.add("GET", "/a/:id", "a");
  assert.throws(() => r.add("GET", "/a/:id", "b"), /defined twice/);
  assert.throws(() => r.add("GET", "/a/:other/x", "c"), /names parameter "other"/);
  assert.throws(() => r.add("GET", "a", "d"), /must start with/);
  assert.throws(() => r.add("GET", "/a/*/b", "e"), /last segment/);
});

Deno.test("router lookup cost does not depend on the number of routes", () => {
  const r = new Router<number>();
  for (let i = 0; i < 5000; i++) r.add("GET", `/r${i}/:id`, i);
  const m = r.match("GET", "/r4999/7");
  assert.ok(m && m.value === 4999);
  assert.equal(r.list().length, 5000);
});

Deno.test("a parameterized match is per method, read-only, and a later static route wins", () => {
  const r = new Router<string>();
  r.add("GET", "/api/data/:model/:key", "item");
  r.add("PUT", "/api/data/:model/:key", "put");
  const a = r.match("GET", "/api/data/Reading/k1");
  assert.ok(a && a.value === "item");
  assert.ok(Object.isFrozen((a as { params: object }).params));
  const put = r.match("PUT", "/api/data/Reading/k1");
  assert.ok(put && put.value === "put", "per method");
  assert.deepEqual((r.match("GET", "/api/data/Reading/k2") as { params: object }).params, {
    model: "Reading",
    key: "k2",
  });
  r.add("GET", "/api/data/Reading/k1", "static");
  const after = r.match("GET", "/api/data/Reading/k1");
  assert.ok(after && after.value === "static", "a static route wins over a parameter");
});

Deno.test("parameters come percent-decoded, and a malformed escape gives null params", () => {
  const r = new Router<string>();
  r.add("GET", "/files/:name", "file");
  r.add("GET", "/raw/*", "tail");
  const m = r.match("GET", "/files/a%20b%2Fc") as { params: Record<string, string> | null };
  assert.deepEqual(m.params, { name: "a b/c" });
  assert.deepEqual((r.match("GET", "/raw/x%41/y") as { params: object }).params, { "*": "xA/y" });
  assert.equal((r.match("GET", "/files/%E0%A4%A") as { params: object | null }).params, null);
});

Deno.test("a static segment that leads nowhere falls back to the parameter, then the tail", () => {
  const r = new Router<string>();
  r.add("GET", "/a/b/c", "static");
  r.add("GET", "/a/:x/d", "param");
  r.add("GET", "/a/*", "tail");
  r.add("GET", "/p/:id", "one");
  r.add("GET", "/p/:id/*", "rest");
  const at = (path: string) => {
    const m = r.match("GET", path);
    return m && m.value !== undefined ? [m.value, m.params] : m;
  };
  assert.deepEqual(at("/a/b/c"), ["static", {}]);
  assert.deepEqual(at("/a/b/d"), ["param", { x: "b" }], "backtracks from b to :x");
  assert.deepEqual(at("/a/b/e"), ["tail", { "*": "b/e" }], "then to the tail");
  assert.deepEqual(at("/a/z/d"), ["param", { x: "z" }]);
  assert.deepEqual(at("/p/7"), ["one", { id: "7" }]);
  assert.deepEqual(at("/p/7/x/y"), ["rest", { id: "7", "*": "x/y" }]);
  assert.equal(at("/q/7"), null);
});
