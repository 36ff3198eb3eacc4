/**
 * The tasks a user runs: `start` must hold every permission the default
 * config needs (the same derivation as `tern permissions`) and nothing like
 * -A; the README must show the fresh-machine commands.
 */

import assert from "node:assert/strict";
import { resolve } from "node:path";
import { defaultConfig, derivePermissions } from "../lib/config/mod.ts";
import { RUNTIME_ENV, RUNTIME_FLAGS } from "../deploy/compile.ts";

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
  const start: string = denoJson.tasks.start;
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

Deno.test("the README shows the two fresh-machine commands on its first screen", () => {
  const readme = Deno.readTextFileSync(resolve(root, "README.md"));
  const firstScreen = readme.split("\n").slice(0, 40).join("\n");
  assert.match(firstScreen, /npx -y deno@2\.9\.6 task start/);
  assert.match(firstScreen, /npx -y deno@2\.9\.6 task test/);
});
