/**
 * Web benchmark of the agent as shipped (`deno task bench web`): the agent
 * started with the start task's command from deno.json (its environment,
 * runtime and permission flags; only port, config and state directory differ:
 * tests/bench/web/start_task.ts) against a bare `Deno.serve` with default
 * flags answering the same bytes (tests/bench/web/bare.ts), loaded by `wrk` on
 * loopback in the same run. Two agents serve the cases:
 *
 * - the start task's agent (the bundle `deno task build` writes) with the
 *   default config: `/api/health`, a 404;
 * - the device maker's entry point `tests/bench/web/device.ts` (runAgent with
 *   an action registered in `onStarted`), same flags, with a config holding an
 *   admin (created with the logged setup token), a logged-in session, an
 *   exposed model with one item and a documents directory: the action, the
 *   authenticated read and write (`PATCH`, XSRF header), static 1 KB and 64 KB.
 *
 * Each case alternates bare and Tern runs of `WEB_BENCH_SECONDS` s (default 2),
 * bare first and last (`WEB_BENCH_ROUNDS` Tern runs, default 9), and reports the
 * steady rounds' median (tests/bench/web/rounds.ts). Then memory
 * (tests/bench/web/memory.ts: local and cloud mode against local peers, three
 * load cycles) and start time (tests/bench/web/start_time.ts: x86_64, and
 * aarch64 under qemu, emulated). Writes `tests/bench/results/web.md`.
 *
 * Quick iteration (no results file): `--case <substring>` (repeatable) runs only
 * the matching throughput cases; `--part rounds|memory|start` (repeatable) only
 * those parts; `WEB_BENCH_ROUNDS=1`, `WEB_BENCH_WAIT` (s after each memory
 * cycle, default 30), `WEB_BENCH_STARTS` (default 10).
 */

import { join } from "node:path";
import { freePort } from "../../../deploy/free_port.ts";
import { MOSQUITTO_MISSING, mosquittoAvailable, startMosquitto } from "../../helpers/mosquitto.ts";
import { startDynalite } from "../../helpers/dynalite.ts";
import { DEVICE_ENTRY, fileBytes, login, writeConfig } from "./configs.ts";
import { type Case, CASES } from "./cases.ts";
import { CONNS, once, PIN, SERVER_CORE, type Target, wrk } from "./load.ts";
import { measure, type Memory, type MemorySetup } from "./memory.ts";
import { median, rounds, type Run, summary } from "./rounds.ts";
import { ARM_DENO, armMissing, startTimes } from "./start_time.ts";
import { buildAgent, buildEntry, ROOT, spawnAgent } from "./start_task.ts";
import { memoryReport, roundsReport, type Row, startReport } from "./report.ts";

const SECONDS = Number(Deno.env.get("WEB_BENCH_SECONDS") ?? 2);
const ROUNDS = Number(Deno.env.get("WEB_BENCH_ROUNDS") ?? 9);
const WAIT_MS = Number(Deno.env.get("WEB_BENCH_WAIT") ?? 30) * 1000;
const STARTS = Number(Deno.env.get("WEB_BENCH_STARTS") ?? 10);
const FILTER: string[] = [];
const PARTS: string[] = [];
for (let i = 0; i < Deno.args.length; i++) {
  if (Deno.args[i] === "--case" && Deno.args[i + 1]) FILTER.push(Deno.args[++i]!);
  else if (Deno.args[i] === "--part" && Deno.args[i + 1]) PARTS.push(Deno.args[++i]!);
}
const part = (p: string) =>
  PARTS.length ? PARTS.includes(p) : FILTER.length === 0 || p === "rounds";
const FULL = FILTER.length === 0 && PARTS.length === 0;

function loadavg(): string {
  return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(", ");
}

async function untilUp(url: string): Promise<void> {
  for (let i = 0;; i++) {
    try {
      await (await fetch(url)).body?.cancel();
      return;
    } catch (e) {
      if (i > 400) throw e;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/** The throughput cases, each Tern run between two bare runs. */
async function throughput(tmp: string, cases: Case[]): Promise<Row[]> {
  const bytes = fileBytes();
  const core = SERVER_CORE ? { core: SERVER_CORE } : {};
  await using def = spawnAgent({
    configDir: writeConfig(join(tmp, "default/config"), "default"),
    stateDir: join(tmp, "default/state"),
    port: freePort(),
    ...core,
  });
  await using dev = spawnAgent({
    configDir: writeConfig(join(tmp, "device/config"), "device", bytes),
    stateDir: join(tmp, "device/state"),
    port: freePort(),
    entry: await buildEntry(DEVICE_ENTRY),
    ...core,
  });
  await def.until(/"Agent started"/);
  await dev.until(/"Agent started"/);
  const session = await login(dev);
  // The bare server answers each case's path with the bytes the agent answered.
  const spec: Record<string, { status: number; type?: string; body: string }> = {};
  const planned = cases.map((c, i) => {
    const tern = c.make((c.on === "default" ? def : dev).url, session);
    return { c, tern, path: `/case/${i}` };
  });
  for (const { c, tern, path } of planned) {
    const res = await once(tern);
    const type = res.headers.get("content-type") ?? undefined;
    const body = new Uint8Array(await res.arrayBuffer()).toBase64();
    spec[path] = {
      status: res.status,
      body,
      ...(type?.includes("json") ? { type } : {}),
    };
    if (c.name.includes("documents") && !type?.includes("octet-stream")) {
      throw new Error(`${c.name}: ${type}`);
    }
  }
  const specPath = join(tmp, "bare.json");
  Deno.writeTextFileSync(specPath, JSON.stringify(spec));
  const bp = freePort();
  const bareCmd = [
    Deno.execPath(),
    "run",
    `--allow-net=127.0.0.1:${bp}`,
    `--allow-read=${specPath}`,
    join(ROOT, "tests/bench/web/bare.ts"),
    String(bp),
    specPath,
  ];
  const full = SERVER_CORE ? ["taskset", "-c", SERVER_CORE, ...bareCmd] : bareCmd;
  const bare = new Deno.Command(full[0]!, { args: full.slice(1), stdout: "null" }).spawn();
  const rows: Row[] = [];
  try {
    await untilUp(`http://127.0.0.1:${bp}/`);
    for (const { c, tern, path } of planned) {
      const bt: Target = { ...tern, url: `http://127.0.0.1:${bp}${path}` };
      const pid = (c.on === "default" ? def : dev).pid;
      const runT = () => wrk(tern, pid, SECONDS, tmp);
      const runB = () => wrk(bt, bare.pid, SECONDS, tmp);
      // One second of each first, not counted (connections, JIT).
      await wrk(bt, bare.pid, 1, tmp);
      await wrk(tern, pid, 1, tmp);
      const r = { b: [await runB()], t: [] as Run[] };
      for (let round = 0; round < ROUNDS; round++) {
        r.t.push(await runT());
        r.b.push(await runB());
        const [x, t, y] = [r.b.at(-2)!, r.t.at(-1)!, r.b.at(-1)!];
        console.error(
          `${c.name} round ${round + 1}: bare ${x.rps.toFixed(0)} tern ${t.rps.toFixed(0)} bare ${
            y.rps.toFixed(0)
          } req/s, CPU ${x.cpu.toFixed(1)} / ${t.cpu.toFixed(1)} / ${y.cpu.toFixed(1)} µs/req${
            rounds([x, y], [t])[0]!.steady ? "" : " (not steady)"
          }${t.errors ? `, ${t.errors} errors` : ""}`,
        );
      }
      const s = summary(r.b, r.t);
      rows.push({
        name: c.name,
        path: new URL(tern.url).pathname.replace(session.key, "KEY"),
        target: c.target,
        pick: s.pick,
        cpuRatio: s.cpuRatio,
        steady: s.steady,
        total: s.total,
        bareCpu: median(s.used.map((x) => x.b.cpu)),
        ternCpu: median(s.used.map((x) => x.t.cpu)),
        ternErrors: r.t.reduce((n, x) => n + x.errors, 0),
        bareErrors: r.b.reduce((n, x) => n + x.errors, 0),
      });
    }
  } finally {
    bare.kill("SIGTERM");
    await bare.status;
  }
  return rows;
}

/** Local and cloud memory, and where cloud mode's megabytes go. */
async function memory(tmp: string) {
  // The main agents' idle: the median of three starts (memory.ts, `starts`).
  const o = { tmp, seconds: SECONDS, waitMs: WAIT_MS, starts: 3 };
  const main: Memory[] = [];
  const parts: Memory[] = [];
  main.push(await measure({ label: "local, default config (start task)", kind: "default" }, o));
  main.push(
    await measure({ label: "local, device config (device.ts, session, model)", kind: "device" }, o),
  );
  await using ddb = await startDynalite({ memory: true });
  // CloudWatch Logs for the agent's log and the EMF metrics: accepts every call ({}).
  await using logs = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      await req.body?.cancel();
      return Response.json({});
    },
  );
  const logsUrl = `http://127.0.0.1:${logs.addr.port}`;
  const broker = mosquittoAvailable() ? await startMosquitto() : undefined;
  const notes: string[] = broker ? [] : [`MQTT left out: ${MOSQUITTO_MISSING}`];
  try {
    const cloud = (label: string, p: MemorySetup["parts"]): MemorySetup => ({
      label,
      kind: "cloud",
      parts: p,
      derive: true,
    });
    const all = {
      aws: true,
      sync: ddb.endpoint,
      logs: logsUrl,
      metrics: true,
      ...(broker ? { mqtt: broker.url } : {}),
    };
    main.push(
      await measure(cloud("cloud: MQTT, sync, logs, metrics, AWS credentials", all), { ...o, ddb }),
    );
    const idle = { ...o, cycles: 0, ddb, starts: 1 };
    parts.push(await measure(cloud("cloud mode, no cloud service", {}), idle));
    parts.push(await measure(cloud("cloud + AWS credentials", { aws: true }), idle));
    if (broker) parts.push(await measure(cloud("cloud + MQTT", { mqtt: broker.url }), idle));
    parts.push(
      await measure(
        cloud("cloud + AWS credentials + sync", { aws: true, sync: ddb.endpoint }),
        idle,
      ),
    );
    parts.push(
      await measure(cloud("cloud + AWS credentials + logs", { aws: true, logs: logsUrl }), idle),
    );
    parts.push(
      await measure(
        cloud("cloud + AWS credentials + logs + metrics", {
          aws: true,
          logs: logsUrl,
          metrics: true,
        }),
        idle,
      ),
    );
  } finally {
    await broker?.[Symbol.asyncDispose]();
  }
  return { main, parts, notes };
}

/** Start times on x86_64 and, emulated, aarch64. */
async function start(tmp: string) {
  const x86 = await startTimes({ tmp, runs: STARTS, target: "x86_64-unknown-linux-gnu" });
  const missing = armMissing();
  const arm = missing ? undefined : await startTimes({
    tmp,
    runs: STARTS,
    runner: ["qemu-aarch64-static", ARM_DENO],
    target: "aarch64-unknown-linux-gnu",
    timeoutMs: 300_000,
  });
  return { x86, arm, missing };
}

if (import.meta.main) {
  await buildAgent();
  const tmp = await Deno.makeTempDir({ prefix: "tern-web-bench-" });
  const load0 = loadavg();
  const began = Date.now();
  const sections: string[] = [];
  try {
    if (part("start")) {
      const s = await start(tmp);
      sections.push(startReport(s.x86, s.arm, s.missing));
    }
    if (part("memory")) {
      const m = await memory(tmp);
      sections.push(memoryReport(m.main, m.parts, m.notes, { waitMs: WAIT_MS, seconds: SECONDS }));
    }
    if (part("rounds")) {
      const cases = FILTER.length
        ? CASES.filter((c) => FILTER.some((f) => c.name.includes(f)))
        : CASES;
      const rows = await throughput(tmp, cases);
      sections.unshift(
        roundsReport(rows, { seconds: SECONDS, rounds: ROUNDS, conns: CONNS, pin: PIN }),
      );
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  const minutes = ((Date.now() - began) / 60_000).toFixed(0);
  const md = `# Web server (the agent as shipped)

Command: \`deno task bench web\` (\`deno run --allow-all tests/bench/web/run.ts\`), ${
    new Date().toISOString().slice(0, 10)
  }, Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores shared with other work; load
average ${load0} at the start, ${loadavg()} at the end (1, 5, 15 min); ${minutes} min.
The agent runs as \`deno task start\` runs it: the start task's command read from deno.json, only
the port, config and state directory changed (\`TERN_WEB_LISTEN\`, \`TERN_CONFIG\`, \`TERN_STATE\`,
and the same paths in its permission flags); cloud mode adds the flags \`tern permissions\`
derives. Method: [docs/performance.md](../../../docs/performance.md#web-server).

${sections.join("\n\n")}
`;
  if (FULL) {
    const out = join(ROOT, "tests/bench/results/web.md");
    Deno.writeTextFileSync(out, md);
    await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", out] }).output();
    console.log(`Wrote ${out}`);
  } else console.log(md);
}
