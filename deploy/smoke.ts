/**
 * Smoke test of a real agent process: start it as a binary runs — the
 * runtime flags and environment of deploy/compile.ts and exactly the
 * permission flags its config needs (production flags, never -A) — wait until every
 * service is running, check `/api/health` when the web server is on, send
 * SIGTERM and require a clean stop with exit 0.
 *
 * Usage: deno run -A deploy/smoke.ts [--runner "qemu-aarch64-static /path/deno"] [--expect-target T]
 * (or import `smoke()`).
 * The runner runs `<runner> run <flags> main.ts run --config <tmp>`; default: this Deno.
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { derivePermissions, loadConfig, permissionFlags } from "../lib/config/mod.ts";
import { RUNTIME_ENV, RUNTIME_FLAGS } from "./compile.ts";
import { freePort } from "./free_port.ts";

/** Options of {@linkcode smoke}. */
export interface SmokeOptions {
  /** Command prefix that runs Deno, e.g. ["qemu-aarch64-static", "/path/deno"]. @default this Deno */
  runner?: string[];
  /** Required `Deno.build.target` of the agent process. */
  expectTarget?: string;
  /** Seconds allowed to reach running. @default 300 */
  timeout?: number;
}

/** Run the smoke test; resolves true on success (and prints why not otherwise). */
export async function smoke(options: SmokeOptions = {}): Promise<boolean> {
  const timeout = options.timeout ?? 300;
  const root = new URL("..", import.meta.url).pathname;
  const tmp = Deno.makeTempDirSync({ prefix: "tern-smoke-" });
  const port = freePort();
  Deno.writeTextFileSync(
    join(tmp, "tern.json5"),
    `{ agent: { state: "${tmp}/state" }, web: { listen: ["http://127.0.0.1:${port}"] }, log: { format: "json" } }`,
  );
  const loaded = loadConfig({ dir: tmp, required: true, env: () => undefined });
  const flags = permissionFlags(derivePermissions(loaded.config, loaded));
  const runner = options.runner ?? [Deno.execPath()];
  const cmd = [
    ...runner,
    "run",
    "--quiet",
    "--no-prompt",
    ...RUNTIME_FLAGS,
    ...flags,
    join(root, "main.ts"),
    "run",
    "--config",
    tmp,
  ];
  console.log(`smoke: ${cmd.join(" ")}`);
  const fail = (why: string, text: string) => {
    console.error(`smoke: FAIL: ${why}\n${text}`);
    return false;
  };

  const t0 = performance.now();
  const child = new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdin: "null",
    stdout: "inherit",
    stderr: "piped",
    env: { NO_COLOR: "1", ...RUNTIME_ENV },
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const timer = setTimeout(() => child.kill("SIGKILL"), timeout * 1000);
  try {
    let started: Record<string, unknown> | undefined;
    while (!started) {
      const { value, done } = await reader.read();
      if (done) return fail(`agent exited before running (or ${timeout} s passed)`, text);
      text += value;
      for (const line of text.split("\n")) {
        if (line.includes('"Agent starting"')) {
          const rec = JSON.parse(line);
          if (options.expectTarget && rec.target !== options.expectTarget) {
            child.kill("SIGKILL");
            return fail(`target ${rec.target}, expected ${options.expectTarget}`, text);
          }
        }
        if (line.includes('"Agent started"')) started = JSON.parse(line);
      }
    }
    const states = (started.states ?? {}) as Record<string, string>;
    const notRunning = Object.entries(states).filter(([, s]) => s !== "running");
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    console.log(`smoke: started in ${secs} s; services: ${JSON.stringify(states)}`);
    if (notRunning.length) {
      child.kill("SIGKILL");
      return fail(`services not running: ${JSON.stringify(notRunning)}`, text);
    }
    if (states.web === "running") {
      const res = await fetch(`http://127.0.0.1:${port}/api/health`);
      const body = await res.text();
      console.log(`smoke: GET /api/health → ${res.status} ${body.slice(0, 200)}`);
      if (res.status !== 200) {
        child.kill("SIGKILL");
        return fail("health check failed", text);
      }
    }
    child.kill("SIGTERM");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    const status = await child.status;
    if (status.code !== 0 || !text.includes('"Agent stopped"')) {
      return fail(`exit ${status.code} after SIGTERM`, text);
    }
    console.log("smoke: OK: stopped cleanly with exit 0 after SIGTERM");
    return true;
  } finally {
    clearTimeout(timer);
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      runner: { type: "string" },
      "expect-target": { type: "string" },
      timeout: { type: "string", default: "300" },
    },
  });
  const ok = await smoke({
    ...(values.runner ? { runner: values.runner.split(" ") } : {}),
    ...(values["expect-target"] ? { expectTarget: values["expect-target"] } : {}),
    timeout: Number(values.timeout),
  });
  Deno.exit(ok ? 0 : 1);
}
