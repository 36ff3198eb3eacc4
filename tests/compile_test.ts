/**
 * The compile path without a downloadable runtime: the generated entry
 * (`.build/entry.ts`, the module `deno task compile` compiles) runs with
 * exactly the flags baked into binaries — which hold no read permission for
 * routes/site — and serves the dashboard from the embedded bytes.
 */

import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { writeEntry } from "../deploy/compile.ts";
import { derivePermissions, loadConfig, permissionFlags } from "../lib/config/mod.ts";
import { clearEmbeddedSite, embedSite } from "../lib/site_bundle.ts";
import { freePort } from "./helpers/process.ts";

const root = resolve(new URL("..", import.meta.url).pathname);

Deno.test("the compiled entry serves the embedded site with the baked flags only", async () => {
  const entry = writeEntry(root);
  const dir = Deno.makeTempDirSync({ prefix: "tern-compile-" });
  const port = freePort();
  Deno.writeTextFileSync(
    join(dir, "tern.json5"),
    `{ agent: { state: "${dir}/state" }, web: { listen: ["http://127.0.0.1:${port}"] }, log: { format: "json" } }`,
  );
  embedSite([]);
  const loaded = loadConfig({ dir, required: true, env: () => undefined });
  const flags = permissionFlags(derivePermissions(loaded.config, loaded));
  clearEmbeddedSite();
  assert.ok(!flags.join(" ").includes("routes/site"), flags.join(" "));

  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-prompt", ...flags, entry, "run", "--config", dir],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes('"Agent started"')) {
    const { value, done } = await reader.read();
    assert.ok(!done, `agent exited early: ${text}`);
    text += value;
  }
  assert.match(text, /"states":\{"database":"running","web":"running"\}/);
  const res = await fetch(`http://127.0.0.1:${port}/`);
  const body = await res.text();
  assert.equal(res.status, 200);
  assert.equal(body, Deno.readTextFileSync(join(root, "routes/site/index.html")));
  const js = await fetch(`http://127.0.0.1:${port}/app.js`);
  assert.equal(await js.text(), Deno.readTextFileSync(join(root, "routes/site/app.js")));
  child.kill("SIGTERM");
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  assert.equal((await child.status).code, 0, text);
});
