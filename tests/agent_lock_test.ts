/**
 * `agent.lock` (deploy/agent_lock.ts): the lockfile the start and `tern` tasks
 * run on is `deno.lock`'s part for the agent's own packages, and it covers
 * every module the agent can load (cloud modules included), so `--frozen`
 * never stops a start.
 */

import assert from "node:assert/strict";
import { agentLock } from "../deploy/agent_lock.ts";
import { LATER_MODULES } from "../lib/later.ts";
import { taskCommand } from "./bench/web/start_task.ts";

const root = new URL("..", import.meta.url).pathname;

Deno.test("agent.lock is derived from deno.lock (deno task lock:agent)", async () => {
  const committed = Deno.readTextFileSync(`${root}/agent.lock`);
  assert.equal(committed, await agentLock(root), 'agent.lock is stale: run "deno task lock:agent"');
  const lock = JSON.parse(committed);
  const full = JSON.parse(Deno.readTextFileSync(`${root}/deno.lock`));
  // The same versions and integrity as deno.lock, and none of the test-only packages.
  for (const [k, v] of Object.entries(lock.npm)) assert.deepEqual(v, full.npm[k], k);
  assert.ok(Object.keys(lock.npm).some((k) => k.startsWith("mqtt@")));
  assert.ok(
    !Object.keys(lock.npm).some((k) => /^(aedes|dynalite|s3rver|playwright-core)@/.test(k)),
  );
  assert.ok(Object.keys(lock.npm).length < Object.keys(full.npm).length / 2);
});

Deno.test("the start and tern tasks run on agent.lock, frozen, and it covers every agent module", async () => {
  for (const t of ["start", "tern"]) {
    assert.match(taskCommand(t, root), / --lock=agent\.lock --frozen /);
  }
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "cache",
      "--lock=agent.lock",
      "--frozen",
      "main.ts",
      "deploy/agent_entry.ts",
      ...LATER_MODULES,
    ],
    cwd: root,
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(r.success, new TextDecoder().decode(r.stderr));
});
