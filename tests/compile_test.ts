/**
 * The compile path without a downloadable runtime: the generated entry
 * (`.build/entry.ts`, the module `deno task compile` compiles) runs with
 * exactly the flags baked into binaries — which hold no read permission for
 * routes/site or for the code — serves the dashboard from the embedded bytes
 * and starts the cloud services from the modules it registers
 * (lib/later.ts). From source, the derived flags read those modules beside
 * the code instead.
 */

import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { bakedFlags, writeEntry } from "../deploy/compile.ts";
import { derivePermissions, loadConfig, permissionFlags } from "../lib/config/mod.ts";
import { startAedes } from "./helpers/aedes.ts";
import { freePort } from "./helpers/process.ts";

const root = resolve(new URL("..", import.meta.url).pathname);

/** Flags for a config directory, derived as for a binary (`compiled`) or a run from source. */
function flagsFor(dir: string, compiled: boolean): string[] {
  if (compiled) return bakedFlags(dir, dir);
  const loaded = loadConfig({ dir, required: true, env: () => undefined });
  return permissionFlags(derivePermissions(loaded.config, loaded));
}

/** Start `module run --config dir` with `flags`; resolves with its log once started. */
async function startAgent(module: string, dir: string, flags: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-prompt", ...flags, module, "run", "--config", dir],
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
  return {
    text,
    /** Read the log until `pattern` appears (or the agent exits). */
    async until(pattern: RegExp): Promise<string> {
      while (!pattern.test(text)) {
        const { value, done } = await reader.read();
        assert.ok(!done, `agent exited before ${pattern}: ${text}`);
        text += value;
      }
      return text;
    },
    async stop(): Promise<void> {
      child.kill("SIGTERM");
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      assert.equal((await child.status).code, 0, text);
    },
  };
}

Deno.test("the compiled entry serves the embedded site with the baked flags only", async () => {
  const { path: entry } = await writeEntry(root);
  const dir = Deno.makeTempDirSync({ prefix: "tern-compile-" });
  const port = freePort();
  Deno.writeTextFileSync(
    join(dir, "tern.json5"),
    `{ agent: { state: "${dir}/state" }, web: { listen: ["http://127.0.0.1:${port}"] }, log: { format: "json" } }`,
  );
  const flags = flagsFor(dir, true);
  assert.ok(!flags.join(" ").includes("routes/site"), flags.join(" "));
  const agent = await startAgent(entry, dir, flags);
  assert.match(agent.text, /"states":\{"database":"running","audit":"running","web":"running"\}/);
  const res = await fetch(`http://127.0.0.1:${port}/`);
  const body = await res.text();
  assert.equal(res.status, 200);
  assert.equal(body, Deno.readTextFileSync(join(root, "routes/site/index.html")));
  const js = await fetch(`http://127.0.0.1:${port}/js/app.js`);
  assert.equal(await js.text(), Deno.readTextFileSync(join(root, "routes/site/js/app.js")));
  await agent.stop();
});

Deno.test("a device maker's entry compiles the same way: its action and the embedded site, baked flags only", async () => {
  const { path: entry, name } = await writeEntry(root, "tests/bench/web/device.ts");
  assert.equal(name, "device");
  assert.match(
    Deno.readTextFileSync(entry),
    /await import\("\.\.\/tests\/bench\/web\/device\.ts"\)/,
  );
  const dir = Deno.makeTempDirSync({ prefix: "tern-compile-app-" });
  const port = freePort();
  Deno.writeTextFileSync(
    join(dir, "tern.json5"),
    `{ agent: { state: "${dir}/state" }, web: { listen: ["http://127.0.0.1:${port}"] }, log: { format: "json" } }`,
  );
  const agent = await startAgent(entry, dir, flagsFor(dir, true));
  const state = await fetch(`http://127.0.0.1:${port}/api/device/state`);
  assert.deepEqual(await state.json(), { on: true, level: 42 });
  const css = await fetch(`http://127.0.0.1:${port}/style.css`);
  assert.equal(await css.text(), Deno.readTextFileSync(join(root, "routes/site/style.css")));
  await agent.stop();
  await assert.rejects(writeEntry(root, "../elsewhere.ts"), /outside the repository/);
  await assert.rejects(writeEntry(root, "nope.ts"), /nope\.ts does not exist/);
});

for (const compiled of [true, false]) {
  Deno.test(
    compiled
      ? "the compiled entry starts MQTT from its embedded modules, with no read of the code"
      : "from source, MQTT starts under the derived flags, which read lib/ and sync/",
    async () => {
      await using broker = await startAedes();
      const module = compiled ? (await writeEntry(root)).path : join(root, "main.ts");
      const dir = Deno.makeTempDirSync({ prefix: "tern-later-" });
      Deno.writeTextFileSync(
        join(dir, "tern.json5"),
        JSON.stringify({
          agent: { state: `${dir}/state`, mode: "cloud" },
          web: { enabled: false },
          mqtt: { enabled: true, url: broker.url },
          device: { id: "later-dev" },
          log: { format: "json" },
        }),
      );
      const flags = flagsFor(dir, compiled);
      const reads = flags.find((f) => f.startsWith("--allow-read="))!.split("=")[1]!.split(",");
      const code = [join(root, "lib"), join(root, "sync")];
      assert.deepEqual(code.map((c) => reads.includes(c)), [!compiled, !compiled], flags.join(" "));
      const agent = await startAgent(module, dir, flags);
      await agent.until(/"source":"mqtt","msg":"Connected"/);
      await agent.stop();
    },
  );
}
