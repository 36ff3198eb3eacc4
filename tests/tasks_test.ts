/**
 * The tasks a user runs: `start` must hold every permission the default
 * config needs (the same derivation as `tern permissions`) and nothing like
 * -A; the README must show the fresh-machine commands; `test` must say what it skipped.
 */

import assert from "node:assert/strict";
import { resolve } from "node:path";
import { defaultConfig, derivePermissions } from "../lib/config/mod.ts";
import { RUNTIME_ENV, RUNTIME_FLAGS } from "../deploy/compile.ts";
import { LATER_MODULES } from "../lib/later.ts";
import {
  AGENT,
  bundleArgs,
  bundleFiles,
  DIST,
  externals,
  resolveImports,
} from "../deploy/build.ts";
import { PEERS_COMMAND, skipSummary } from "./helpers/peers.ts";

const root = new URL("..", import.meta.url).pathname;
const denoJson = JSON.parse(Deno.readTextFileSync(resolve(root, "deno.json")));

function flagsOf(task: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of task.matchAll(/--allow-(\w+)(?:=(\S+))?/g)) {
    out.set(m[1]!, m[2] ? m[2].split(",") : ["*"]);
  }
  return out;
}

Deno.test("the start task holds exactly what the default config needs, scoped", () => {
  const start: string = denoJson.tasks.start.command;
  assert.deepEqual(denoJson.tasks.start.dependencies, ["build"]);
  assert.doesNotMatch(start, /(^|\s)(-A|--allow-all)(\s|$)/);
  const flags = flagsOf(start);
  for (const [k, v] of flags) assert.ok(!v.includes("*"), `--allow-${k} is unscoped`);
  // The same runtime flags as a compiled binary (small resident set).
  for (const f of RUNTIME_FLAGS) assert.ok(start.split(/\s+/).includes(f), `start task lacks ${f}`);
  for (const [k, v] of Object.entries(RUNTIME_ENV)) {
    assert.ok(
      start.startsWith(`${k}=${v} `) || start.includes(` ${k}=${v} `),
      `start task lacks ${k}`,
    );
  }
  const unit = Deno.readTextFileSync(resolve(root, "deploy/systemd/tern.service"));
  for (const [k, v] of Object.entries(RUNTIME_ENV)) {
    assert.match(unit, new RegExp(`Environment=${k}=${v}`));
  }
  const needs = derivePermissions(defaultConfig(), {
    configDir: resolve(root, "config"),
    stateDir: resolve(root, "state"),
  });
  const covered = (kind: string, value: string) =>
    (flags.get(kind) ?? []).some((f) => {
      if (kind === "net" || kind === "env" || kind === "sys") return f === value;
      const p = resolve(root, f);
      return value === p || value.startsWith(p + "/");
    });
  for (const kind of ["read", "write", "net", "env", "sys"] as const) {
    for (const value of needs[kind]) {
      assert.ok(covered(kind, value), `start task lacks --allow-${kind}=${value}`);
    }
  }
});

Deno.test("the build task bundles the start task's entry and every later() module, npm packages left out", () => {
  assert.equal(
    denoJson.tasks.build.command,
    "deno run --allow-read --allow-write=dist,.build --allow-run deploy/build.ts",
  );
  const args = bundleArgs(AGENT.entry, `${DIST}/${AGENT.name}`, denoJson.imports);
  const at = args.indexOf(AGENT.entry);
  assert.deepEqual(args.slice(at + 1), [...LATER_MODULES]);
  assert.ok(args.includes("--outdir=dist/agent"));
  assert.ok(denoJson.tasks.start.command.endsWith(" dist/agent/deploy/agent_entry.js run"));
  assert.deepEqual(denoJson.tasks.test.dependencies, ["build"]);
  const ext = args.filter((w) => w.startsWith("--external=")).map((w) => w.slice(11));
  for (const name of Object.keys(denoJson.imports)) {
    assert.ok(
      ext.some((e) => e === name || (e.endsWith("/*") && name.startsWith(e.slice(0, -1)))),
      `${name} would be bundled`,
    );
  }
  assert.deepEqual(externals({ a: "npm:a@1", "b/": "npm:/b@2/" }), ["a", "b/*"]);
});

Deno.test("a bundle's npm imports are written as the import map resolves them, so it needs no deno.json", () => {
  const map = {
    mqtt: "npm:mqtt@5.16.0",
    "@p/x": "npm:@p/x@2.2.0",
    "aws-sdk/": "npm:/aws-sdk@2.1.0/",
  };
  assert.equal(
    resolveImports(
      'import{a}from"./c.js";import*as x from"@p/x";import"node:tls";' +
        'const m=await import("mqtt");import s3 from "aws-sdk/clients/s3";f("mqtt");',
      map,
    ),
    'import{a}from"./c.js";import*as x from"npm:@p/x@2.2.0";import"node:tls";' +
      'const m=await import("npm:mqtt@5.16.0");import s3 from "npm:/aws-sdk@2.1.0/clients/s3";f("mqtt");',
  );
  assert.throws(() => resolveImports('import("left-pad")', map), /"left-pad".*does not map/);
  // What the build wrote: every import of the start task's bundle is relative, node: or npm:.
  const bare = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s*)"([a-z@][^"]*)"/g;
  const found = bundleFiles(resolve(root, DIST, AGENT.name)).flatMap((f) =>
    [...Deno.readTextFileSync(f).matchAll(bare)].map((m) => m[1]!)
  );
  assert.ok(found.includes("npm:mqtt@5.16.0"), found.join(" "));
  assert.deepEqual(found.filter((s) => !/^(node|npm):/.test(s)), []);
  assert.match(denoJson.tasks.start.command, / deno run --no-config --lock=agent\.lock --frozen /);
});

Deno.test("the README shows the two fresh-machine commands on its first screen", () => {
  const readme = Deno.readTextFileSync(resolve(root, "README.md"));
  const firstScreen = readme.split("\n").slice(0, 40).join("\n");
  assert.match(firstScreen, /npx -y deno@2\.9\.6 task start/);
  assert.match(firstScreen, /npx -y deno@2\.9\.6 task test/);
});

Deno.test("deno task test ends with the suites it skipped and the command that installs the peers", async () => {
  const lines = skipSummary(["b_test.ts.chromium", "a_test.ts.mosquitto", "c_test.ts.mosquitto"]);
  assert.equal(lines.length, 1);
  assert.match(
    lines[0]!,
    /a_test\.ts, c_test\.ts \(need mosquitto\); b_test\.ts \(need chromium\)/,
  );
  assert.ok(lines[0]!.includes(PEERS_COMMAND));
  assert.equal(denoJson.tasks.peers, "bash tests/peers.sh");
  assert.match(Deno.readTextFileSync(resolve(root, ".ci/run")), /task peers/);
  // The real wrapper on a suite that skips a long test: the note reaches the last line.
  const dir = await Deno.makeTempDir();
  try {
    const peers = new URL("./helpers/peers.ts", import.meta.url).href;
    await Deno.writeTextFile(
      resolve(dir, "long_test.ts"),
      `import { skipUnlessSlow } from "${peers}";\n` +
        `Deno.test({ name: "long", ignore: skipUnlessSlow(import.meta.url), fn() {} });\n`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", resolve(root, "tests/run.ts"), resolve(dir, "long_test.ts")],
      cwd: root,
      env: { NO_COLOR: "1", TERN_SLOW_TESTS: "" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const last = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1);
    assert.equal(last, "Long tests not run in long_test.ts: TERN_SLOW_TESTS=1 runs them.");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
