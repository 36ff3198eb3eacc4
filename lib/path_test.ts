import assert from "node:assert/strict";
import posix from "node:path/posix";
import { fileURLToPath } from "node:url";
import { dirname, fromFileUrl, join, normalize, resolve } from "./path.ts";

const CASES = [
  "",
  ".",
  "..",
  "/",
  "//",
  "a",
  "a/",
  "/a",
  "/a/",
  "a/b",
  "/a/b/c",
  "/a//b///c/",
  "a/./b",
  "a/../b",
  "../a",
  "../../a/b",
  "/../a",
  "/a/b/../../..",
  "a/b/../../..",
  "./a/.",
  "/a/b/.",
  "/a/..b/c",
  "/a/b.txt",
  "/é/ü 1/x",
];

Deno.test("normalize, dirname, join and resolve agree with node:path posix", () => {
  for (const p of CASES) {
    assert.equal(normalize(p), posix.normalize(p), `normalize(${JSON.stringify(p)})`);
    assert.equal(dirname(p), posix.dirname(p), `dirname(${JSON.stringify(p)})`);
    assert.equal(resolve(p), posix.resolve(p), `resolve(${JSON.stringify(p)})`);
    for (const q of CASES) {
      assert.equal(
        join(p, q),
        posix.join(p, q),
        `join(${JSON.stringify(p)}, ${JSON.stringify(q)})`,
      );
      assert.equal(resolve(p, q), posix.resolve(p, q), `resolve(${JSON.stringify([p, q])})`);
    }
  }
  assert.equal(join(), posix.join());
  assert.equal(resolve(), posix.resolve());
  assert.equal(resolve("/x", "a", "/b", "c", ".."), posix.resolve("/x", "a", "/b", "c", ".."));
});

Deno.test("fromFileUrl decodes like node:url and refuses what is not a local file URL", () => {
  for (const u of ["file:///a/b", "file:///a%20b/%C3%A9", "file://localhost/x"]) {
    assert.equal(fromFileUrl(u), fileURLToPath(u));
  }
  assert.equal(fromFileUrl(new URL("file:///x/y")), "/x/y");
  assert.throws(() => fromFileUrl("https://a/b"), TypeError);
  assert.throws(() => fromFileUrl("file://host/b"), TypeError);
  assert.throws(() => fromFileUrl("file:///a%2fb"), TypeError);
});
