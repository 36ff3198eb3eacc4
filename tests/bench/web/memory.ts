/**
 * Memory of the agent as shipped, each measured with the agent alone (the page
 * cache dropped first when running as root: the kernel maps cached neighbours
 * of every page a process touches, so runtime pages cached by other processes
 * would inflate its file-backed RSS):
 *
 * - idle: after one request of each kind the agent serves, then `SETTLE_MS`
 *   quiet (the agent's settle-when-idle GC runs every 5 s); with `starts`,
 *   the median of that many starts (one start's file-backed pages, the
 *   runtime's code it touched with its cached neighbours, vary by about
 *   ±0.5 MB with nothing changed);
 * - three load cycles (one wrk run of every case each, RSS sampled every
 *   250 ms for the peak), each followed by `WAIT_MS` quiet and a reading: the
 *   readings after cycles 1 and 3 should agree (no growth);
 * - the V8 heap from the agent's own `/metrics` (admin session) at the end.
 *
 * Cloud mode runs against a local mosquitto and an in-process dynalite; what
 * each cloud part costs is read from idle agents with one part on at a time.
 */

import { join } from "node:path";
import { createSyncTable, type Dynalite, scanTable } from "../../helpers/dynalite.ts";
import {
  type CloudParts,
  DEVICE_ENTRY,
  login,
  type Session,
  TABLE,
  writeConfig,
} from "./configs.ts";
import { dropCaches, once, rssMb, SERVER_CORE, type Target, wrk } from "./load.ts";
import {
  type AgentProcess,
  buildEntry,
  BUNDLE_DIR,
  bundleOf,
  ROOT,
  spawnAgent,
} from "./start_task.ts";
import { freePort } from "../../../deploy/free_port.ts";

export const SETTLE_MS = 6_000;

/** What one agent measured. */
export interface Memory {
  label: string;
  idle: number;
  idleAnon: number;
  idleFile: number;
  /** The idle of each start, in start order (one unless `starts` asked for more). */
  idles: number[];
  /** Peak RSS over all cycles. */
  peak: number;
  /** RSS `WAIT_MS` after each load cycle. */
  after: number[];
  /** V8 heap used / committed and external, MB (from /metrics), when there is a session. */
  heap?: { used: number; total: number; external: number };
}

/** Which agent: the shipped entry and default config, or the device maker's with a session. */
export interface MemorySetup {
  label: string;
  kind: "default" | "device" | "cloud";
  parts?: CloudParts;
  /** The cloud config's `--allow-*` flags come from `tern permissions`. */
  derive?: boolean;
}

/**
 * `--allow-*` flags `tern permissions` (`deno task tern`) prints for a config and listen port (the
 * documented way): for running from source, or with `--bundle DIR` for running the bundle in
 * `DIR` (which reads its own directory instead of `lib/` and `sync/`).
 */
export async function derivedPermissions(
  configDir: string,
  stateDir: string,
  port: number,
  bundle?: string,
): Promise<string[]> {
  const task = JSON.parse(Deno.readTextFileSync(join(ROOT, "deno.json"))).tasks.tern as string;
  const words = task.split(/\s+/);
  if (words[0] !== "deno" || words.at(-1) !== "main.ts") throw new Error(`tern task: ${task}`);
  const run = [...words.slice(1), "permissions", ...(bundle ? ["--bundle", bundle] : [])];
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...run, "--config", configDir, "--state", stateDir],
    cwd: ROOT,
    env: { TERN_WEB_LISTEN: `http://127.0.0.1:${port}` },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim().split("\n").filter((l) =>
    l.startsWith("--allow-")
  );
}

/** A running agent of `setup` in `dir` with its targets (the requests a load cycle sends). */
export async function startFor(
  setup: MemorySetup,
  dir: string,
  ddb?: Dynalite,
): Promise<{ agent: AgentProcess; targets: Target[]; session?: Session }> {
  const configDir = writeConfig(join(dir, "config"), setup.kind, undefined, setup.parts);
  const stateDir = join(dir, "state");
  const port = freePort();
  const device = setup.kind !== "default";
  const entry = device ? await buildEntry(DEVICE_ENTRY) : undefined;
  const bundle = entry ? bundleOf(entry) : BUNDLE_DIR;
  const agent = spawnAgent({
    configDir,
    stateDir,
    port,
    ...(entry ? { entry } : {}),
    ...(setup.derive
      ? { permissions: await derivedPermissions(configDir, stateDir, port, bundle) }
      : {}),
    ...(SERVER_CORE ? { core: SERVER_CORE } : {}),
  });
  await agent.until(/"Agent started"/);
  const u = agent.url;
  if (!device) {
    const targets = [
      { url: `${u}/api/health` },
      { url: `${u}/api/nope`, status: 404 },
      { url: `${u}/` },
    ];
    return { agent, targets };
  }
  if (setup.parts?.mqtt) await agent.until(/"source":"mqtt","msg":"Connected"/);
  if (setup.parts?.sync) await agent.until(/"Sync started"/);
  const session = await login(agent);
  const cookie = `Cookie: ${session.cookie}`;
  const targets: Target[] = [
    { url: `${u}/api/health` },
    { url: `${u}/api/device/state` },
    { url: `${u}/api/data/Reading/${session.key}`, headers: [cookie] },
    {
      url: `${u}/api/data/Reading/${session.key}`,
      headers: [cookie, `X-XSRF-Token: ${session.xsrf}`],
      method: "PATCH",
      body: '{"value":22.5}',
    },
    { url: `${u}/docs/bench-1k.bin` },
    { url: `${u}/docs/bench-64k.bin` },
  ];
  if (ddb) {
    // Full cloud mode really syncs: the item reaches the table.
    const client = ddb.client();
    const table = setup.parts?.table ?? TABLE;
    for (let i = 0; (await scanTable(client, table)).length === 0; i++) {
      if (i > 200) throw new Error(`The item never reached dynalite:\n${agent.log().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { agent, targets, session };
}

async function heapOf(url: string, cookie: string): Promise<Memory["heap"]> {
  const text = await (await fetch(`${url}/metrics`, { headers: { cookie } })).text();
  const g = (n: string) =>
    Number(new RegExp(`^${n} (\\d+)$`, "m").exec(text)?.[1] ?? NaN) / 2 ** 20;
  return {
    used: g("tern_process_heap_used_bytes"),
    total: g("tern_process_heap_total_bytes"),
    external: g("tern_process_external_bytes"),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Options of {@linkcode measure}. */
export interface MeasureOptions {
  tmp: string;
  /** Load cycles. @default 3 */
  cycles?: number;
  /** Seconds of each wrk run in a cycle. */
  seconds: number;
  /** Quiet time after each cycle, ms. @default 30000 */
  waitMs?: number;
  ddb?: Dynalite;
  /** Starts whose idle readings give the median `idle` (the first also runs the cycles). @default 1 */
  starts?: number;
}

let tables = 0;

/** Idle, peak and after-load RSS of one agent (`cycles: 0`: idle only). */
export async function measure(setup: MemorySetup, o: MeasureOptions): Promise<Memory> {
  const m = await measureOne(setup, o);
  const more: Memory[] = [];
  for (let i = 1; i < (o.starts ?? 1); i++) more.push(await measureOne(setup, { ...o, cycles: 0 }));
  if (!more.length) return m;
  const byIdle = [m, ...more].sort((a, b) => a.idle - b.idle);
  const mid = byIdle[(byIdle.length - 1) >> 1]!;
  return {
    ...m,
    idle: mid.idle,
    idleAnon: mid.idleAnon,
    idleFile: mid.idleFile,
    idles: [m, ...more].map((x) => x.idle),
  };
}

async function measureOne(setup: MemorySetup, o: MeasureOptions): Promise<Memory> {
  const dir = await Deno.makeTempDir({ dir: o.tmp, prefix: "mem-" });
  dropCaches();
  let s = setup;
  if (o.ddb && setup.parts?.sync) {
    // A table of its own: the check that the item arrives must not see another agent's.
    const table = `${TABLE}-${++tables}`;
    await createSyncTable(o.ddb.client(), table);
    s = { ...setup, parts: { ...setup.parts, table } };
  }
  const { agent, targets, session } = await startFor(s, dir, s.parts?.sync ? o.ddb : undefined);
  try {
    const pid = agent.pid;
    for (const t of targets) await (await once(t)).arrayBuffer();
    await sleep(SETTLE_MS);
    const m: Memory = {
      label: setup.label,
      idle: rssMb(pid),
      idleAnon: rssMb(pid, "RssAnon"),
      idleFile: rssMb(pid, "RssFile"),
      idles: [],
      peak: 0,
      after: [],
    };
    m.idles.push(m.idle);
    m.peak = m.idle;
    for (let c = 0; c < (o.cycles ?? 3); c++) {
      const sampler = setInterval(() => m.peak = Math.max(m.peak, rssMb(pid)), 250);
      try {
        for (const t of targets) {
          const r = await wrk(t, pid, o.seconds, dir);
          if (r.errors) throw new Error(`${r.errors} errors from ${t.url} (${setup.label})`);
        }
      } finally {
        clearInterval(sampler);
      }
      m.peak = Math.max(m.peak, rssMb(pid));
      await sleep(o.waitMs ?? 30_000);
      m.after.push(rssMb(pid));
    }
    if (session) m.heap = await heapOf(agent.url, session.cookie);
    return m;
  } finally {
    await agent.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
