/**
 * The dashboard's build outputs (`deno task site`: routes/site/*.br, *.gz and
 * .precompressed.json) are current: each sibling decompresses to its source
 * and the manifest names every source's tag. Editing the site without
 * running `deno task site` fails here, naming the stale files.
 */

import assert from "node:assert/strict";
import { buildSite, staleOutputs } from "../deploy/site.ts";

Deno.test("routes/site: the committed build outputs are current (else run `deno task site`)", async () => {
  const dir = new URL("../routes/site", import.meta.url).pathname;
  assert.deepEqual(await staleOutputs(dir), [], "run `deno task site` and commit its outputs");
});

Deno.test("deno task site: writes the siblings, then finds nothing stale; an edit is named", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tern_site_" });
  try {
    Deno.writeTextFileSync(`${dir}/index.html`, "<!doctype html>" + "<p>x</p>".repeat(100));
    Deno.writeTextFileSync(`${dir}/tiny.css`, "a{}");
    // A stale sibling of a file too small to compress: removed by the build.
    Deno.writeFileSync(`${dir}/tiny.css.br`, new Uint8Array([1, 2, 3]));
    assert.deepEqual((await staleOutputs(dir)).sort(), [
      "/.precompressed.json",
      "/index.html.br",
      "/index.html.gz",
      "/tiny.css.br",
    ]);
    assert.equal(await buildSite(dir), 1);
    assert.deepEqual(await staleOutputs(dir), []);
    assert.throws(() => Deno.statSync(`${dir}/tiny.css.br`), Deno.errors.NotFound);
    Deno.writeTextFileSync(`${dir}/index.html`, "<!doctype html>" + "<p>y</p>".repeat(100));
    assert.deepEqual((await staleOutputs(dir)).sort(), [
      "/.precompressed.json",
      "/index.html.br",
      "/index.html.gz",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
