/**
 * A/B of two source trees at the same moment: the shipped agent of each (its
 * own start task from its deno.json, the device config of the web benchmark:
 * a session, a model with one item, the documents directory) on the server
 * core, each loaded by its own wrk on the first core, both at once. This
 * machine's speed changes in phases (see docs/performance.md); run together,
 * both agents live through the same phases, so the per-round ratio of their CPU
 * per request stays within a few per cent where two runs one after the other
 * differ by half. For changes to the request path:
 *
 * ```sh
 * git worktree add /tmp/base HEAD          # the tree to compare against
 * deno run -A tests/bench/web/ab.ts --base /tmp/base --rounds 8 --path read
 * git worktree remove /tmp/base
 * ```
 *
 * `--path`: `read` (the authenticated item read), `write` (the PATCH with the
 * XSRF header), `action` (the device maker's action; both trees need
 * tests/bench/web/device.ts, which then runs instead of main.ts), or a path
 * (`/api/health`). `--v8 <flags>` adds V8 flags to this tree's agent only (to
 * try a flag: `--base .`), `--env K=V[,K=V]` environment variables. Prints each
 * round's CPU µs per request of both and their ratio B/A (< 1: this tree is
 * cheaper), and the median. Pairs of processes differ by ±2 % on their own (an
 * A/A gives 0.97–1.02): repeat a run before trusting a difference that small.
 */

import { join, resolve } from "node:path";
import { freePort } from "../../../deploy/free_port.ts";
import { DEVICE_ENTRY, login, type Session, writeConfig } from "./configs.ts";
import { SERVER_CORE, type Target, wrk } from "./load.ts";
import { median } from "./rounds.ts";
import { type AgentProcess, buildAgent, buildEntry, ROOT, spawnAgent } from "./start_task.ts";

function arg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && Deno.args[i + 1] !== undefined ? Deno.args[i + 1]! : fallback;
}

function target(a: AgentProcess, s: Session, path: string): Target {
  const item = `${a.url}/api/data/Reading/${s.key}`;
  const cookie = `Cookie: ${s.cookie}`;
  if (path === "read") return { url: item, headers: [cookie] };
  if (path === "write") {
    return {
      url: item,
      headers: [cookie, `X-XSRF-Token: ${s.xsrf}`],
      method: "PATCH",
      body: '{"value":22.5}',
    };
  }
  if (path === "action") return { url: `${a.url}/api/device/state` };
  return { url: `${a.url}${path}`, headers: [cookie] };
}

if (import.meta.main) {
  if (!SERVER_CORE) throw new Error("needs two cores and taskset: one for the agents, one for wrk");
  const base = resolve(arg("base", "/tmp/base"));
  const rounds = Number(arg("rounds", "8"));
  await buildAgent(base);
  await buildAgent(ROOT);
  const path = arg("path", "read");
  const entries = path === "action"
    ? new Map([[base, await buildEntry(DEVICE_ENTRY, base)], [
      ROOT,
      await buildEntry(DEVICE_ENTRY),
    ]])
    : undefined;
  const v8 = arg("v8", "");
  const env = Object.fromEntries(
    arg("env", "").split(",").filter((kv) => kv.includes("=")).map((kv) => {
      const i = kv.indexOf("=");
      return [kv.slice(0, i), kv.slice(i + 1)];
    }),
  );
  const tmp = await Deno.makeTempDir({ prefix: "tern-ab-" });
  const start = (
    root: string,
    name: string,
    extra: { v8Flags?: string; env?: Record<string, string> },
  ) => {
    const dir = join(tmp, name);
    return spawnAgent({
      root,
      configDir: writeConfig(join(dir, "config"), "device"),
      stateDir: join(dir, "state"),
      port: freePort(),
      core: SERVER_CORE,
      ...(entries ? { entry: entries.get(root)! } : {}),
      ...(extra.v8Flags ? { v8Flags: extra.v8Flags } : {}),
      ...(extra.env ? { env: extra.env } : {}),
    });
  };
  await using a = start(base, "a", {});
  await using b = start(ROOT, "b", { v8Flags: v8, env });
  try {
    await Promise.all([a.until(/"Agent started"/), b.until(/"Agent started"/)]);
    const [sa, sb] = await Promise.all([login(a), login(b)]);
    const [ta, tb] = [target(a, sa, path), target(b, sb, path)];
    await Promise.all([wrk(ta, a.pid, 2, tmp), wrk(tb, b.pid, 2, tmp)]); // warm both
    const ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const [ra, rb] = await Promise.all([wrk(ta, a.pid, 3, tmp), wrk(tb, b.pid, 3, tmp)]);
      if (ra.errors || rb.errors) throw new Error(`errors: A ${ra.errors}, B ${rb.errors}`);
      const [ca, cb] = [ra.cpu, rb.cpu];
      ratios.push(cb / ca);
      console.log(
        `round ${r + 1}: A ${ca.toFixed(1)} µs/req, B ${cb.toFixed(1)} µs/req, B/A ${
          (cb / ca).toFixed(3)
        }`,
      );
    }
    console.log(`B/A median ${median(ratios).toFixed(3)} over ${rounds} rounds`);
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}
