/**
 * The bundle that `deno task start` runs (deno.json's build task,
 * deploy/build.ts, deploy/agent_entry.ts): a command loaded through `later()`
 * is the bundle's own file and shares its modules with the agent (one
 * database layer, one set of classes), the permissions it derives name the
 * bundle's directory and the repository's `routes/site`, and its site is the
 * repository's. `deno task test` builds the bundle first. A device maker's
 * entry bundled with `deno task build --entry` runs its action and its cloud
 * modules from its own bundle under the flags `tern permissions --bundle`
 * derives.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  buildEntry,
  BUNDLE_DIR,
  bundleEntry,
  bundleOf,
  ROOT,
  runtimeFlags,
  startTask,
} from "./bench/web/start_task.ts";
import { DEVICE_ENTRY } from "./bench/web/configs.ts";
import { derivedPermissions } from "./bench/web/memory.ts";
import { startAedes } from "./helpers/aedes.ts";
import { collect, denoWithInput, freePort, spawnDeno } from "./helpers/process.ts";
import { until } from "./helpers/wait.ts";

function tern(args: string[], stdin?: string): Promise<{ code: number; out: string; err: string }> {
  return denoWithInput(["run", "--quiet", "--allow-all", bundleEntry(), ...args], stdin, ROOT);
}

Deno.test("the bundled CLI runs a later() command on the agent's database", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tern_bundle_" });
  try {
    const add = await tern(
      ["--state", dir, "user", "add", "alice", "--role", "admin"],
      "bundle-password-1\n",
    );
    assert.equal(add.code, 0, add.err);
    const list = await tern(["--state", dir, "user", "list"]);
    assert.equal(list.code, 0, list.err);
    assert.equal(JSON.parse(list.out.trim()).username, "alice");
    const db = new DatabaseSync(join(dir, "tern.db"));
    try {
      const row = db.prepare(
        "SELECT count(*) AS n FROM _items WHERE CAST(data AS TEXT) LIKE '%alice%'",
      )
        .get();
      assert.ok(Number(row?.n) > 0);
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the bundle derives its own directory and the repository's site for permissions", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tern_bundle_" });
  try {
    await Deno.writeTextFile(join(dir, "tern.json5"), '{ agent: { mode: "cloud" } }');
    const r = await tern(["--config", dir, "--state", join(dir, "state"), "permissions"]);
    assert.equal(r.code, 0, r.err);
    const read = r.out.split("\n").find((l) => l.startsWith("--allow-read="))!;
    const paths = read.slice("--allow-read=".length).split(",");
    assert.ok(paths.includes(BUNDLE_DIR), read);
    assert.ok(paths.includes(join(ROOT, "routes/site")), read);
    assert.ok(!paths.includes(join(ROOT, "lib")), read);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the bundled agent serves the repository's dashboard", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tern_bundle_" });
  const port = freePort();
  const child = spawnDeno(
    [
      `--allow-read=${dir},${join(ROOT, "routes/site")}`,
      `--allow-write=${dir}`,
      `--allow-net=127.0.0.1:${port}`,
      "--allow-env",
    ],
    bundleEntry(),
    ["run", "--config", dir, "--state", join(dir, "state")],
    { TERN_WEB_LISTEN: `http://127.0.0.1:${port}` },
  );
  try {
    let css = "";
    await until(async () => {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/style.css`);
        css = await res.text();
        return res.ok;
      } catch {
        return false;
      }
    }, { ms: 20_000, what: "the bundled agent's /style.css" });
    assert.equal(css, await Deno.readTextFile(join(ROOT, "routes/site/style.css")));
  } finally {
    child.kill("SIGTERM");
    await collect(child);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a device maker's entry runs from its own bundle, cloud modules included, under the derived flags", async () => {
  const module = await buildEntry(DEVICE_ENTRY);
  assert.equal(module, "dist/device.js");
  const bundle = bundleOf(module)!;
  await using broker = await startAedes();
  const dir = await Deno.makeTempDir({ prefix: "tern_bundle_app_" });
  const port = freePort();
  await Deno.writeTextFile(
    join(dir, "tern.json5"),
    JSON.stringify({
      agent: { mode: "cloud" },
      mqtt: { enabled: true, url: broker.url },
      device: { id: "bundle-dev" },
      log: { format: "json" },
    }),
  );
  const state = join(dir, "state");
  const flags = await derivedPermissions(dir, state, port, bundle);
  const read = flags.find((f) => f.startsWith("--allow-read="))!.split("=")[1]!.split(",");
  assert.ok(read.includes(bundle), flags.join(" "));
  assert.ok(!read.includes(join(ROOT, "lib")), flags.join(" "));
  // The start task's runtime flags: no deno.json (the bundle's npm imports are written out), the lock.
  const task = startTask();
  const runtime = runtimeFlags(task);
  assert.ok(runtime.includes("--no-config"), runtime.join(" "));
  const child = spawnDeno([...runtime, ...flags], join(ROOT, module), [
    "--config",
    dir,
    "--state",
    state,
  ], { ...task.env, TERN_WEB_LISTEN: `http://127.0.0.1:${port}` });
  const log = collect(child);
  try {
    let body: unknown;
    await until(async () => {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/api/device/state`);
        body = await res.json();
        return res.ok;
      } catch {
        return false;
      }
    }, { ms: 20_000, what: "the bundled device's action" });
    assert.deepEqual(body, { on: true, level: 42 });
    // The MQTT client is a later() module: it loaded from dist/device/ under these flags.
    await until(() => broker.connects.length > 0, {
      ms: 20_000,
      what: "the bundled device's MQTT connection",
    });
  } finally {
    child.kill("SIGTERM");
    const { stderr } = await log;
    await Deno.remove(dir, { recursive: true });
    assert.doesNotMatch(stderr, /PermissionDenied|NotCapable/, stderr);
  }
});
