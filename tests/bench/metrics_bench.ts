/**
 * CloudWatch metrics benchmark, Tern against the runtime's limit in the same run:
 *
 * 1. Collector CPU: one sampling tick as the "cloud.metrics" service runs it
 *    every `interval` (10 s) with every group on (OS: CPU total and per core,
 *    load, memory, disk usage, disk I/O, network, temperature, uptime; the
 *    agent: process memory, event-loop lag, web routes, MQTT, spool; 20
 *    application series), i.e. OsCollector.update() + registry.collect() +
 *    Aggregator.sample(), and every sixth tick the period's close: datums
 *    appended to a spool on a file database. CPU (user + system of this
 *    process) per tick, ×6 per minute, as % of one core; against the bare
 *    cost of reading the same /proc and /sys files. Measured back to back
 *    (warm) and spaced 100 ms apart (caches and JIT cooler).
 * 2. `put()` of an application metric (with and without dimensions) against
 *    a bare `Map` update of a running sum in the same run.
 *
 * Run: deno run --allow-all tests/bench/metrics_bench.ts [--ticks 600]
 * Writes tests/bench/results/metrics.md. No network.
 */

import { cpuUsage } from "node:process";
import { join } from "node:path";
import { systemClock } from "../../lib/clock.ts";
import { Aggregator, AppMetrics, type Datum } from "../../lib/cloud/metrics/mod.ts";
import { Spool, spoolFamilies } from "../../lib/cloud/mod.ts";
import { Database } from "../../lib/db/mod.ts";
import { nullLogger } from "../../lib/log/mod.ts";
import { EventLoopLag, MetricsRegistry, processFamilies } from "../../lib/metrics/mod.ts";
import { OsCollector } from "../../lib/metrics/os.ts";
import { mqttFamilies } from "../../lib/mqtt/mod.ts";
import { WebMetrics } from "../../lib/web/metrics.ts";

const tIdx = Deno.args.indexOf("--ticks");
const TICKS = tIdx >= 0 ? Number(Deno.args[tIdx + 1]) : 600;
const PUTS = 2_000_000;

const cpuMs = () => {
  const u = cpuUsage();
  return (u.user + u.system) / 1000;
};

// --- 1. the sampling tick ---------------------------------------------------
const dir = await Deno.makeTempDir({ prefix: "tern_metrics_bench_" });
const db = Database.open({ path: join(dir, "tern.db"), purgeInterval: 0 });
const spool = Spool.of(db, { clock: systemClock, log: nullLogger });
const stream = spool.stream("metrics.put");
const registry = new MetricsRegistry();
const os = new OsCollector({
  groups: { perCore: true },
  diskPaths: [dir, Deno.cwd()],
});
const lag = new EventLoopLag();
const web = new WebMetrics();
for (const r of ["/api/health", "/api/data/:model", "/api/auth/login", "/metrics", "404"]) {
  for (const s of [200, 401, 404]) web.record("GET", r, s, 3.2);
}
const agg = new Aggregator({ base: [["Device", "bench"]] });
const app = new AppMetrics({ aggregator: agg, now: () => Date.now() });
registry.register(processFamilies);
registry.register(() => lag.families());
registry.register(() => os.families());
registry.register(() => web.families());
registry.register(() => app.families());
registry.register(() =>
  mqttFamilies({
    connected: true,
    since: Date.now(),
    reconnects: 1,
    attempts: 2,
    authFailure: false,
    queueDepth: 3,
    queueBytes: 300,
    inflight: 1,
    sent: 100,
    acked: 99,
    received: 5,
    dropped: 0,
    droppedOffline: 0,
    poison: 0,
  } as never)
);
registry.register(() => spoolFamilies([stream.status()]));
for (let i = 0; i < 20; i++) app.put(`App${i}`, i, { dimensions: { Unit: "u1" } });

let datumsPerPeriod = 0;
let t = Math.floor(Date.now() / 60_000) * 60_000;
function tick(i: number): void {
  os.update();
  agg.sample(registry.collect(), t);
  t += 10_000;
  if (i % 6 === 5) {
    const ds: Datum[] = agg.due(t);
    datumsPerPeriod = ds.length;
    stream.append(ds.map((d) => ({ time: d.t, data: JSON.stringify(d) })));
    stream.ack(Number.MAX_SAFE_INTEGER); // keep the spool small: the sender's part is not measured here
  }
}
const FILES = [
  "/proc/stat",
  "/proc/loadavg",
  "/proc/meminfo",
  "/proc/self/mountinfo",
  "/proc/diskstats",
  "/proc/net/dev",
  "/proc/uptime",
];
function rawTick(): void {
  for (const f of FILES) Deno.readTextFileSync(f);
  for (const _ of Deno.readDirSync("/sys/block")) { /* list */ }
  try {
    for (const _ of Deno.readDirSync("/sys/class/thermal")) { /* list */ }
  } catch { /* none */ }
}
for (let i = 0; i < 60; i++) tick(i); // warm-up
for (let i = 0; i < 60; i++) rawTick();

function measure(fn: (i: number) => void, n: number): number {
  const c0 = cpuMs();
  for (let i = 0; i < n; i++) fn(i);
  return (cpuMs() - c0) / n;
}
async function measureSpaced(fn: (i: number) => void, n: number): Promise<number> {
  let cpu = 0;
  for (let i = 0; i < n; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const c0 = cpuMs();
    fn(i);
    cpu += cpuMs() - c0;
  }
  return cpu / n;
}
const warm = measure(tick, TICKS);
const warmRaw = measure(() => rawTick(), TICKS);
const spaced = await measureSpaced(tick, 50);
const spacedRaw = await measureSpaced(() => rawTick(), 50);
const families = registry.collect();
const series = families.reduce((a, f) => a + f.series.length, 0);
const pct = (msPerTick: number) => (msPerTick * 6) / 60_000 * 100;
lag[Symbol.dispose]();
db.close();
await Deno.remove(dir, { recursive: true });

// --- 2. put() against a bare Map ---------------------------------------------
const agg2 = new Aggregator({ base: [["Device", "bench"]], period: 3_600_000 });
const app2 = new AppMetrics({ aggregator: agg2, now: () => 1_767_225_600_000 });
const map = new Map<string, { n: number; sum: number; min: number; max: number }>();
const dims = { Tank: "north" };
function bare(n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const v = i & 127;
    const e = map.get("TankLevel");
    if (e === undefined) map.set("TankLevel", { n: 1, sum: v, min: v, max: v });
    else {
      e.n++;
      e.sum += v;
      if (v < e.min) e.min = v;
      if (v > e.max) e.max = v;
    }
  }
  return (performance.now() - t0) * 1e6 / n;
}
function put(n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) app2.put("TankLevel", i & 127);
  return (performance.now() - t0) * 1e6 / n;
}
function putDims(n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) app2.put("TankLevel2", i & 127, { dimensions: dims });
  return (performance.now() - t0) * 1e6 / n;
}
for (let r = 0; r < 3; r++) {
  bare(200_000);
  put(200_000);
  putDims(200_000);
}
const rounds: { bare: number; put: number; dims: number }[] = [];
for (let r = 0; r < 5; r++) rounds.push({ bare: bare(PUTS), put: put(PUTS), dims: putDims(PUTS) });
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const bareNs = med(rounds.map((r) => r.bare));
const putNs = med(rounds.map((r) => r.put));
const dimsNs = med(rounds.map((r) => r.dims));

const load = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(", ");
const f1 = (x: number) => x.toFixed(1);
const f3 = (x: number) => x.toFixed(3);
const md =
  `# CloudWatch metrics (lib/metrics + lib/cloud/metrics vs bare /proc reads and a bare Map)

Command: \`deno run --allow-all tests/bench/metrics_bench.ts --ticks ${TICKS}\` (Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs; load average at the end: ${load}; shared machine, single runs vary).

One sampling tick with every group on (${families.length} families, ${series} series in the registry; ${datumsPerPeriod} datums per 60 s period), at the default 10 s interval (6 ticks a minute):

| tick | Tern CPU per tick (ms) | Tern CPU per minute, % of one core | bare /proc + /sys reads per tick (ms) | ratio (Tern / bare) |
|---|---:|---:|---:|---:|
| back to back (${TICKS} ticks, warm) | ${f3(warm)} | ${f3(pct(warm))} | ${f3(warmRaw)} | ${
    f1(warm / warmRaw)
  } |
| spaced 100 ms apart (50 ticks) | ${f3(spaced)} | ${f3(pct(spaced))} | ${f3(spacedRaw)} | ${
    f1(spaced / spacedRaw)
  } |

Target (issue 21): collector CPU ≤ 0.5 % of one core at a 10 s interval. A tick is
\`OsCollector.update()\` + \`registry.collect()\` + \`Aggregator.sample()\`, and every sixth tick the
period's close (\`due()\` + one spool append of its datums); sending is not in it (one request a
minute). "bare" reads the same files and lists the same directories, nothing parsed.

| application metric, ${
    PUTS.toLocaleString("en")
  } updates × 5 rounds (median) | ns per update | ratio (Tern / bare Map) |
|---|---:|---:|
| bare \`Map\` update of count, sum, min, max | ${f1(bareNs)} | 1.0 |
| \`put("TankLevel", v)\` | ${f1(putNs)} | ${f1(putNs / bareNs)} |
| \`put("TankLevel2", v, { dimensions })\` (same object) | ${f1(dimsNs)} | ${f1(dimsNs / bareNs)} |

\`put()\` checks the value (finite, CloudWatch's range), finds the series (one Map lookup; with
dimensions also a JSON of them for the cache key), finds the period's aggregate (a string key of
period start and series) and updates it, and keeps the last value for \`/metrics\`.
`;
Deno.writeTextFileSync(new URL("./results/metrics.md", import.meta.url).pathname, md);
console.log(md);
