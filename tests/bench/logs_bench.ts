/**
 * CloudWatch Logs benchmark, Tern against the runtime's limit in the same run:
 *
 * 1. Sustained: a file written at 2,000 lines/s is followed and uploaded to a
 *    local endpoint (Deno.serve in this process, answering like
 *    PutLogEvents), by the Tern agent (`_logs_child.ts agent`: spool in
 *    SQLite, SigV4) and by a raw loop (`_logs_child.ts raw`: the same polling
 *    and batches with a bare fetch). Each child's CPU (utime+stime from
 *    /proc) and RSS are read after a 15 s warm-up (three flushes) and at the
 *    end of the window; the ratio is CPU per event, Tern / raw. Both children
 *    run as the start task runs the agent (RUNTIME_FLAGS and RUNTIME_ENV of
 *    deploy/compile.ts, incl. --expose-gc; the agent settles its heap after
 *    the start and when idle, as `tern run` does). RSS is read as it is and,
 *    at both ends, again after one full GC in the child (SIGUSR2, outside the
 *    CPU window): the settled growth is what the window retained, the plain
 *    one also holds garbage not yet collected.
 * 2. Spool appends/s (100-record transactions, and one record per commit) vs
 *    raw node:sqlite inserts of the same rows with the same pragmas.
 * 3. Events shipped/s from a 100,000-event backlog: LogSender (peek, cut,
 *    sign, send, ack) vs raw fetch of the same batches.
 *
 * Run: deno run --allow-all tests/bench/logs_bench.ts [--seconds 30]
 *   [--only agent|raw] [--profile DIR]   (one child; --cpu-prof of the agent into DIR)
 * Writes tests/bench/results/logs.md. Loopback only, bounded in time.
 */

import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { rawPut } from "./_logs_child.ts";
import { AwsJsonClient, staticCredentials } from "../../lib/aws/mod.ts";
import { systemClock } from "../../lib/clock.ts";
import { encodeEvent, LogSender } from "../../lib/cloud/logs/mod.ts";
import { Spool } from "../../lib/cloud/mod.ts";
import { Database } from "../../lib/db/mod.ts";
import { pragmas } from "../../lib/db/_sql.ts";
import { nullLogger } from "../../lib/log/mod.ts";
import { RUNTIME_ENV, RUNTIME_FLAGS } from "../../deploy/compile.ts";

const secIdx = Deno.args.indexOf("--seconds");
const SECONDS = secIdx >= 0 ? Number(Deno.args[secIdx + 1]) : 30;
const RATE = 2000;
const WARM = 15;
/** `--profile DIR`: the agent child writes a V8 CPU profile there (`--cpu-prof`). */
const profIdx = Deno.args.indexOf("--profile");
const PROFILE = profIdx >= 0 ? Deno.args[profIdx + 1] : undefined;
/** `--only agent|raw`: run only that child's sustained part (profiling). */
const onlyIdx = Deno.args.indexOf("--only");
const ONLY = onlyIdx >= 0 ? Deno.args[onlyIdx + 1] : undefined;
const CHILD = new URL("./_logs_child.ts", import.meta.url).pathname;
const TICK = Number(
  new TextDecoder().decode(
    (await new Deno.Command("getconf", { args: ["CLK_TCK"] }).output()).stdout,
  ).trim(),
) || 100;

function endpoint() {
  let events = 0;
  let requests = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const target = req.headers.get("x-amz-target") ?? "";
    const body = await req.text();
    requests++;
    if (target.endsWith("PutLogEvents")) events += JSON.parse(body).logEvents.length;
    return Response.json(target.endsWith("PutLogEvents") ? { nextSequenceToken: "1" } : {});
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    get events() {
      return events;
    },
    get requests() {
      return requests;
    },
    server,
  };
}

function procStat(pid: number): { cpu: number; rss: number } {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpu = (Number(f[11]) + Number(f[12])) / TICK; // utime, stime (fields 14, 15)
  const rss = Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))![1]) *
    1024;
  return { cpu, rss };
}

interface Sustained {
  mode: string;
  cpuPct: number;
  cpuPerEventUs: number;
  rssStart: number;
  rssEnd: number;
  /** RSS after a full GC at the start and at the end of the window. */
  settledStart: number;
  settledEnd: number;
  written: number;
  received: number;
}

async function sustained(mode: "agent" | "raw"): Promise<Sustained> {
  const dir = await Deno.makeTempDir({ prefix: `tern_logs_bench_${mode}_` });
  const ep = endpoint();
  const child = new Deno.Command(Deno.execPath(), {
    // As the start task runs the agent (deno.json): glibc arenas and V8 flags.
    args: [
      "run",
      "--allow-all",
      ...RUNTIME_FLAGS,
      ...(PROFILE && mode === "agent" ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE}`] : []),
      CHILD,
      mode,
      dir,
      ep.url,
    ],
    env: { ...RUNTIME_ENV },
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${mode} child ended before ready`);
    out += value;
  }
  const file = await Deno.open(join(dir, "app.log"), { create: true, append: true, write: true });
  const enc = new TextEncoder();
  let n = 0;
  const writeFor = async (seconds: number) => {
    const start = performance.now();
    for (let tick = 1; performance.now() - start < seconds * 1000; tick++) {
      let text = "";
      for (let i = 0; i < RATE / 10; i++) {
        text += `${new Date().toISOString()} INFO pump-7 reading ${n++} value=${(n % 997) / 10}\n`;
      }
      await file.write(enc.encode(text));
      const wait = start + tick * 100 - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  };
  /** One full GC in the child (SIGUSR2 → "settled"). */
  const settle = async () => {
    child.kill("SIGUSR2");
    while (!out.includes("settled")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${mode} child ended before settled`);
      out += value;
    }
    out = "";
  };
  // RSS as it is and after a full GC at both ends; the window's CPU holds neither GC.
  await writeFor(WARM);
  const a0 = procStat(child.pid);
  await settle();
  const a1 = procStat(child.pid);
  const a = { cpu: a1.cpu, rss: a0.rss };
  const aSettled = a1.rss;
  const t0 = performance.now();
  const n0 = n;
  await writeFor(SECONDS);
  const b = procStat(child.pid);
  await settle();
  const bSettled = procStat(child.pid).rss;
  const wall = (performance.now() - t0) / 1000;
  const written = n - n0;
  const end = Date.now() + 20_000;
  while (ep.events < n && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
  file.close();
  // SIGTERM lets a profiling child write its profile; SIGKILL otherwise.
  child.kill(PROFILE ? "SIGTERM" : "SIGKILL");
  await child.status;
  await reader.cancel().catch(() => {});
  await ep.server.shutdown();
  await Deno.remove(dir, { recursive: true });
  return {
    mode,
    cpuPct: ((b.cpu - a.cpu) / wall) * 100,
    cpuPerEventUs: ((b.cpu - a.cpu) / written) * 1e6,
    rssStart: a.rss,
    rssEnd: b.rss,
    settledStart: aSettled,
    settledEnd: bSettled,
    written: n,
    received: ep.events,
  };
}

function appends(): { tern1: number; raw1: number; tern100: number; raw100: number } {
  const dir = Deno.makeTempDirSync({ prefix: "tern_logs_bench_db_" });
  const db = Database.open({ path: join(dir, "tern.db"), purgeInterval: 0 });
  const stream = Spool.of(db, { clock: systemClock, log: nullLogger }).stream("logs.bench", {
    maxRecords: 10_000_000,
    maxBytes: 1 << 30,
  });
  const raw = new DatabaseSync(join(dir, "raw.db"));
  raw.exec(pragmas("NORMAL", 5000));
  raw.exec(
    "CREATE TABLE q (id INTEGER PRIMARY KEY AUTOINCREMENT, sid INTEGER, time INTEGER, bytes INTEGER, data TEXT);" +
      "CREATE INDEX q_sid ON q (sid, id);",
  );
  const ins = raw.prepare("INSERT INTO q (sid, time, bytes, data) VALUES (?, ?, ?, ?)");
  const data = (i: number) =>
    encodeEvent("/tern/bench", "bench/app.log", `${new Date().toISOString()} INFO reading ${i}`);
  const enc = new TextEncoder();
  const rate = (fn: () => number, ms = 2000) => {
    const end = performance.now() + ms;
    let count = 0;
    const start = performance.now();
    while (performance.now() < end) count += fn();
    return count / ((performance.now() - start) / 1000);
  };
  let i = 0;
  const tern1 = rate(() => (stream.append([{ data: data(i++) }]), 1));
  const raw1 = rate(() => {
    const d = data(i++);
    ins.run(1, Date.now(), enc.encode(d).length, d);
    return 1;
  });
  const tern100 = rate(() => {
    stream.append(Array.from({ length: 100 }, () => ({ data: data(i++) })), { pos: String(i) });
    return 100;
  });
  const raw100 = rate(() => {
    raw.exec("BEGIN IMMEDIATE");
    for (let k = 0; k < 100; k++) {
      const d = data(i++);
      ins.run(1, Date.now(), enc.encode(d).length, d);
    }
    raw.exec("COMMIT");
    return 100;
  });
  db.close();
  raw.close();
  Deno.removeSync(dir, { recursive: true });
  return { tern1, raw1, tern100, raw100 };
}

async function shipped(): Promise<{ tern: number; raw: number }> {
  const N = 100_000;
  const ep = endpoint();
  const db = Database.open({ path: ":memory:", purgeInterval: 0 });
  const stream = Spool.of(db, { clock: systemClock, log: nullLogger }).stream("logs.ship", {
    maxRecords: 1_000_000,
    maxBytes: 1 << 30,
  });
  const now = Date.now();
  const msg = (i: number) => `${new Date(now).toISOString()} INFO pump-7 reading ${i} value=1.5`;
  for (let k = 0; k < N; k += 1000) {
    stream.append(Array.from({ length: 1000 }, (_, j) => ({
      time: now,
      data: encodeEvent("/tern/bench", "bench/app.log", msg(k + j)),
    })));
  }
  await using client = new AwsJsonClient({
    service: "logs",
    region: "eu-west-1",
    targetPrefix: "Logs_20140328",
    endpoint: ep.url,
    credentials: staticCredentials({
      accessKeyId: "AKIDBENCH0000001",
      secretAccessKey: "bench-secret-key-0001",
    }),
    retries: 0,
  });
  const sender = new LogSender({ stream, client, clock: systemClock, log: nullLogger });
  let t = performance.now();
  while (await sender.step() !== "idle") { /* send */ }
  const tern = N / ((performance.now() - t) / 1000);
  const before = ep.events;
  t = performance.now();
  for (let k = 0; k < N; k += 10_000) {
    const logEvents = Array.from(
      { length: 10_000 },
      (_, j) => ({ timestamp: now, message: msg(k + j) }),
    );
    await rawPut(ep.url, logEvents);
  }
  const raw = N / ((performance.now() - t) / 1000);
  if (ep.events - before !== N) throw new Error("raw events lost");
  db.close();
  await ep.server.shutdown();
  return { tern, raw };
}

const fmt = (n: number, d = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const mb = (b: number) => (b / 1048576).toFixed(1);

if (ONLY) {
  console.log(await sustained(ONLY === "raw" ? "raw" : "agent"));
  Deno.exit(0);
}
const row = (name: string, r: Sustained) =>
  `| ${name} | ${r.cpuPct.toFixed(2)} | ${r.cpuPerEventUs.toFixed(1)} | ${mb(r.rssStart)} → ${
    mb(r.rssEnd)
  } | ${mb(r.rssEnd - r.rssStart)} | ${mb(r.settledStart)} → ${mb(r.settledEnd)} | ${
    mb(r.settledEnd - r.settledStart)
  } | ${fmt(r.written)} / ${fmt(r.received)} |`;
const agent = await sustained("agent");
const raw = await sustained("raw");
const ap = appends();
const sh = await shipped();
const load = Deno.loadavg().map((x) => x.toFixed(2)).join(", ");
const md = `# CloudWatch Logs (lib/cloud/logs + spool vs raw fetch and raw node:sqlite)

Command: \`deno run --allow-all tests/bench/logs_bench.ts --seconds ${SECONDS}\` (Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs, loopback endpoint in the parent process; load average at the end: ${load}; shared machine, single runs vary).

Sustained ${
  fmt(RATE)
} lines/s from a followed file for ${SECONDS} s after a ${WARM} s warm-up (CPU and RSS of the uploading process only):

| uploader | CPU (% of one core) | CPU per event (µs) | RSS start → end (MB) | RSS growth (MB) | RSS after a full GC, start → end (MB) | settled growth (MB) | lines written / received |
|---|---:|---:|---:|---:|---:|---:|---:|
${row("Tern agent (file source, SQLite spool, SigV4)", agent)}
${row("raw loop (same polling and batches, bare fetch)", raw)}
| **ratio, CPU per event (Tern / raw)** | | **${
  (agent.cpuPerEventUs / raw.cpuPerEventUs).toFixed(2)
}** | | | | | |

Targets (issue 20): agent CPU ≤ 5 % of one core, RSS growth ≤ 5 MB, CPU per event ≤ 1.5× raw.
"RSS after a full GC": the child runs one memory-reducing GC (what \`tern run\` does when idle,
lib/cli/_settle.ts) at each end of the window, outside the CPU window; the growth between those
two is what the window retained, the plain RSS growth includes garbage not yet collected.

| spool | Tern records/s | raw node:sqlite rows/s | ratio (Tern / raw) |
|---|---:|---:|---:|
| append, one record per commit | ${fmt(ap.tern1)} | ${fmt(ap.raw1)} | ${
  (ap.tern1 / ap.raw1).toFixed(2)
} |
| append, 100 records + source state per commit | ${fmt(ap.tern100)} | ${fmt(ap.raw100)} | ${
  (ap.tern100 / ap.raw100).toFixed(2)
} |

| shipping a 100,000-event backlog | Tern events/s | raw fetch events/s | ratio (Tern / raw) |
|---|---:|---:|---:|
| LogSender (peek, cut, SigV4, PutLogEvents, ack) vs fetch of the same batches | ${
  fmt(sh.tern)
} | ${fmt(sh.raw)} | ${(sh.tern / sh.raw).toFixed(2)} |
`;
const out = new URL("./results/logs.md", import.meta.url).pathname;
Deno.writeTextFileSync(out, md);
console.log(md);
