/**
 * Smoke test of a real agent process: start it with exactly the permission
 * flags its config needs (production flags, never -A), wait until every
 * service is running, check `/api/health` when the web server is on, send
 * SIGTERM and require a clean stop with exit 0.
 *
 * Usage: deno run -A deploy/smoke.ts [--runner "qemu-aarch64-static /path/deno"] [--expect-target T]
 * The runner runs `<runner> run <flags> main.ts run --config <tmp>`; default: this Deno.
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { derivePermissions, loadConfig, permissionFlags } from "../lib/config/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runner: { type: "string" },
    "expect-target": { type: "string" },
    timeout: { type: "string", default: "300" },
  },
});

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

const root = new URL("..", import.meta.url).pathname;
const tmp = Deno.makeTempDirSync({ prefix: "tern-smoke-" });
const port = freePort();
Deno.writeTextFileSync(
  join(tmp, "tern.json5"),
  `{ agent: { state: "${tmp}/state" }, web: { listen: ["http://127.0.0.1:${port}"] }, log: { format: "json" } }`,
);
const loaded = loadConfig({ dir: tmp, required: true, env: () => undefined });
const flags = permissionFlags(derivePermissions(loaded.config, loaded));
const runner = values.runner ? values.runner.split(" ") : [Deno.execPath()];
const cmd = [
  ...runner,
  "run",
  "--quiet",
  "--no-prompt",
  ...flags,
  join(root, "main.ts"),
  "run",
  "--config",
  tmp,
];
console.log(`smoke: ${cmd.join(" ")}`);

const t0 = performance.now();
const child = new Deno.Command(cmd[0]!, {
  args: cmd.slice(1),
  stdin: "null",
  stdout: "inherit",
  stderr: "piped",
  env: { NO_COLOR: "1" },
}).spawn();
const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
let text = "";
const deadline = setTimeout(() => {
  console.error(`smoke: FAIL: not running after ${values.timeout} s\n${text}`);
  child.kill("SIGKILL");
  Deno.exit(1);
}, Number(values.timeout) * 1000);

let started: Record<string, unknown> | undefined;
while (!started) {
  const { value, done } = await reader.read();
  if (done) {
    console.error(`smoke: FAIL: agent exited before running\n${text}`);
    Deno.exit(1);
  }
  text += value;
  for (const line of text.split("\n")) {
    if (line.includes('"Agent starting"')) {
      const rec = JSON.parse(line);
      if (values["expect-target"] && rec.target !== values["expect-target"]) {
        console.error(`smoke: FAIL: target ${rec.target}, expected ${values["expect-target"]}`);
        Deno.exit(1);
      }
    }
    if (line.includes('"Agent started"')) started = JSON.parse(line);
  }
}
const states = (started.states ?? {}) as Record<string, string>;
const notRunning = Object.entries(states).filter(([, s]) => s !== "running");
console.log(
  `smoke: started in ${((performance.now() - t0) / 1000).toFixed(1)} s; services: ${
    JSON.stringify(states)
  }`,
);
if (notRunning.length) {
  console.error(`smoke: FAIL: services not running: ${JSON.stringify(notRunning)}\n${text}`);
  child.kill("SIGKILL");
  Deno.exit(1);
}
if (states.web === "running") {
  const res = await fetch(`http://127.0.0.1:${port}/api/health`);
  const body = await res.text();
  console.log(`smoke: GET /api/health → ${res.status} ${body.slice(0, 200)}`);
  if (res.status !== 200) {
    child.kill("SIGKILL");
    Deno.exit(1);
  }
}
child.kill("SIGTERM");
for (;;) {
  const { value, done } = await reader.read();
  if (done) break;
  text += value;
}
const status = await child.status;
clearTimeout(deadline);
if (status.code !== 0 || !text.includes('"Agent stopped"')) {
  console.error(`smoke: FAIL: exit ${status.code}\n${text}`);
  Deno.exit(1);
}
console.log(`smoke: OK: stopped cleanly with exit 0 after SIGTERM`);
