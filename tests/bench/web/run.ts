/**
 * Web benchmark: bare `Deno.serve` against Tern on loopback with `wrk`,
 * same run, same machine. Cases (each `ROUNDS` × `SECONDS` s per side: a
 * bare run right before each Tern run; the pair with the median ratio is
 * reported, which keeps a burst of load from other work out of the result):
 *
 * | Tern case | compared with |
 * |---|---|
 * | action route `GET /action` (a device maker's handler) | bare, 12-byte body |
 * | the same on the "serve" engine (plain Deno.serve, no slowloris guard) | bare, 12-byte body |
 * | the same with the strict config (exact 16 KB header check, nosniff on every response) | bare, 12-byte body |
 * | authenticated JSON API `GET /api/data/Reading/:key` (session cookie, DB read) | bare, 12-byte body |
 * | static 1 KB from memory | bare, the same 1 KB body |
 * | static 64 KB from memory | bare, the same 64 KB body |
 *
 * Also the Tern agent's RSS (database + web services, default config) at
 * idle, the peak under load, and 30 s after the load.
 * Writes `tests/bench/results/web.md`. Run: `deno run -A tests/bench/web/run.ts`.
 * Quick iteration: `--case <substring>` (repeatable) runs only matching cases, skips the
 * 30 s after-load wait and does not write the results file; `WEB_BENCH_ROUNDS=1` for fewer rounds.
 */

import { RUNTIME_ENV, RUNTIME_FLAGS } from "../../../deploy/compile.ts";

const SECONDS = Number(Deno.env.get("WEB_BENCH_SECONDS") ?? 3);
const ROUNDS = Number(Deno.env.get("WEB_BENCH_ROUNDS") ?? 7);
const CONNS = 32;
const here = new URL(".", import.meta.url).pathname;
const FILTER: string[] = [];
for (let i = 0; i < Deno.args.length; i++) {
  if (Deno.args[i] === "--case" && Deno.args[i + 1]) FILTER.push(Deno.args[++i]!);
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

async function spawn(mode: string, port: number, variant = "default") {
  const child = new Deno.Command(Deno.execPath(), {
    // Tern runs with the runtime flags of the start task and compiled binaries.
    args: [
      "run",
      "-A",
      ...(mode === "tern" ? RUNTIME_FLAGS : []),
      `${here}server.ts`,
      mode,
      String(port),
      variant,
    ],
    // ... and their environment (both servers: it does not change throughput).
    env: { ...RUNTIME_ENV },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (!buf.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${mode} server exited early`);
    buf += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return { child, info: JSON.parse(buf.split("\n")[0]!) };
}

/** Drop the kernel's page cache (root only); whether it was done. */
function dropCaches(): boolean {
  try {
    new Deno.Command("sync").outputSync();
    Deno.writeTextFileSync("/proc/sys/vm/drop_caches", "3");
    return true;
  } catch {
    return false;
  }
}

function rssMb(pid: number, field = "VmRSS"): number {
  const s = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(s)![1]) / 1024;
}

function ms(v: string): number {
  const m = /([\d.]+)(us|ms|s)/.exec(v)!;
  return Number(m[1]) * (m[2] === "us" ? 0.001 : m[2] === "s" ? 1000 : 1);
}

interface Run {
  rps: number;
  p99: number;
  errors: number;
  /** Server CPU time (user + system) per request, µs. */
  cpu: number;
}

/** CPU time a process has used so far, µs (/proc/PID/stat utime + stime, 100 ticks a second). */
function cpuUs(pid: number): number {
  const f = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) * 10_000;
}

/** One wrk run against `url`, served by process `pid`. */
async function wrk(url: string, pid: number, headers: string[] = []): Promise<Run> {
  const args = ["-t1", `-c${CONNS}`, `-d${SECONDS}s`, "--latency"];
  for (const h of headers) args.push("-H", h);
  const cpu0 = cpuUs(pid);
  const out = await new Deno.Command("wrk", { args: [...args, url], stdout: "piped" }).output();
  const cpu = cpuUs(pid) - cpu0;
  const text = new TextDecoder().decode(out.stdout);
  const n = Number(/(\d+) requests in/.exec(text)?.[1] ?? 0);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? 0);
  const p99 = ms(/\s99%\s+(\S+)/.exec(text)?.[1] ?? "0ms");
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, p99, errors, cpu: n > 0 ? cpu / n : NaN };
}

/** Median of the per-round ratios bare CPU / Tern CPU per request (1 = Tern costs what bare does). */
function medianCpuRatio(b: Run[], t: Run[]): number {
  const r = b.map((x, i) => x.cpu / t[i]!.cpu).sort((x, y) => x - y);
  return r[Math.floor(r.length / 2)]!;
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
}

/** The bare/Tern pair with the median ratio (robust to load from other work on the machine). */
function medianPair(b: Run[], t: Run[]): { b: Run; t: Run; ratio: number } {
  const pairs = b.map((x, i) => ({ b: x, t: t[i]!, ratio: t[i]!.rps / x.rps }))
    .sort((x, y) => x.ratio - y.ratio);
  return pairs[Math.floor(pairs.length / 2)]!;
}

if (import.meta.main) {
  const [bp, tp, gp, lp] = [freePort(), freePort(), freePort(), freePort()];
  // Idle is measured with the agent alone, as on a device: no other runtime process yet, and
  // (when allowed: root) the page cache dropped first. The kernel maps in cached neighbours of
  // each page an agent touches, so runtime pages cached by other processes would inflate the
  // agent's file-backed RSS by a few MB that depend on what ran before.
  const dropped = dropCaches();
  const tern = await spawn("tern", tp);
  const pid = tern.child.pid;
  const T = `http://127.0.0.1:${tp}`;
  // Idle means after having served: one request of each benchmarked kind (from this process),
  // then quiet long enough for the agent's settle-when-idle GC.
  for (
    const [path, headers] of [["/action", {}], ["/bench-1k.bin", {}], ["/", {}], [
      `/api/data/Reading/${tern.info.item}`,
      { cookie: tern.info.cookie },
    ]] as const
  ) {
    const r = await fetch(`${T}${path}`, { headers });
    if (!r.ok) throw new Error(`warm-up ${path}: ${r.status}`);
    await r.arrayBuffer();
  }
  await new Promise((r) => setTimeout(r, 6000));
  const idle = rssMb(pid);
  const idleAnon = rssMb(pid, "RssAnon");
  const bare = await spawn("bare", bp);
  const serveEngine = await spawn("tern", gp, "serve");
  const strict = await spawn("tern", lp, "strict");
  const B = `http://127.0.0.1:${bp}`;
  const G = `http://127.0.0.1:${gp}`;
  const L = `http://127.0.0.1:${lp}`;
  const cookie = `Cookie: ${tern.info.cookie}`;
  const all = [
    {
      name: "action route",
      bare: `${B}/`,
      bareName: "bare 12 B",
      tern: `${T}/action`,
      pid: tern.child.pid,
      h: [] as string[],
      target: 0.75,
    },
    {
      name: "action route, serve engine",
      bare: `${B}/`,
      bareName: "bare 12 B",
      tern: `${G}/action`,
      pid: serveEngine.child.pid,
      h: [],
      target: 0.75,
    },
    {
      name: "action route, strict config",
      bare: `${B}/`,
      bareName: "bare 12 B",
      tern: `${L}/action`,
      pid: strict.child.pid,
      h: [],
      target: 0.75,
    },
    {
      name: "authenticated JSON API",
      bare: `${B}/`,
      bareName: "bare 12 B",
      tern: `${T}/api/data/Reading/${tern.info.item}`,
      pid: tern.child.pid,
      h: [cookie],
      target: 0.6,
    },
    {
      name: "reference: bare Deno.serve, cookie + JSON with no-store",
      bare: `${B}/`,
      bareName: "bare 12 B",
      tern: `${B}/json`,
      pid: bare.child.pid,
      h: [cookie],
      target: 0,
    },
    {
      name: "static 1 KB",
      bare: `${B}/1k`,
      bareName: "bare 1 KB",
      tern: `${T}/bench-1k.bin`,
      pid: tern.child.pid,
      h: [],
      target: 0.6,
    },
    {
      name: "static 64 KB",
      bare: `${B}/64k`,
      bareName: "bare 64 KB",
      tern: `${T}/bench-64k.bin`,
      pid: tern.child.pid,
      h: [],
      target: 0.6,
    },
  ];
  const cases = FILTER.length ? all.filter((c) => FILTER.some((f) => c.name.includes(f))) : all;
  const results = new Map<string, { b: Run[]; t: Run[] }>();
  let peak = idle;
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) {
      const r = results.get(c.name) ?? { b: [], t: [] };
      r.b.push(await wrk(c.bare, bare.child.pid));
      const sampler = setInterval(() => peak = Math.max(peak, rssMb(pid)), 250);
      r.t.push(await wrk(c.tern, c.pid, c.h));
      clearInterval(sampler);
      peak = Math.max(peak, rssMb(pid));
      results.set(c.name, r);
      console.error(
        `round ${round + 1}: ${c.name} bare ${r.b.at(-1)!.rps.toFixed(0)} tern ${
          r.t.at(-1)!.rps.toFixed(0)
        } req/s, CPU ${r.b.at(-1)!.cpu.toFixed(1)} / ${r.t.at(-1)!.cpu.toFixed(1)} µs/req`,
      );
    }
  }
  const afterLoad = rssMb(pid);
  if (FILTER.length) {
    for (const c of cases) {
      const r = results.get(c.name)!;
      const { b, t, ratio } = medianPair(r.b, r.t);
      console.log(
        `${c.name}: bare ${b.rps.toFixed(0)} tern ${t.rps.toFixed(0)} ratio ${
          ratio.toFixed(2)
        }, CPU ratio ${medianCpuRatio(r.b, r.t).toFixed(2)}`,
      );
    }
    console.log(`idle RSS ${idle.toFixed(1)} MB`);
    for (const p of [bare, tern, serveEngine, strict]) p.child.kill("SIGTERM");
    await Promise.all([bare, tern, serveEngine, strict].map((p) => p.child.status));
    Deno.exit(0);
  }
  await new Promise((r) => setTimeout(r, 30_000));
  const after30 = rssMb(pid);
  // Growth or a plateau? The same load once more (one round of every case), then 30 s again: a
  // leak grows again, memory the allocator merely keeps does not.
  for (const c of cases) await wrk(c.tern, c.pid, c.h);
  await new Promise((r) => setTimeout(r, 30_000));
  const afterSecond = rssMb(pid);
  // Where the memory is then, from the agent's own /metrics (admin session).
  const metrics = await (await fetch(`${T}/metrics`, { headers: { cookie: tern.info.cookie } }))
    .text();
  const gauge = (name: string) =>
    Number(new RegExp(`^${name} (\\d+)$`, "m").exec(metrics)?.[1] ?? NaN) / 1048576;
  for (const p of [bare, tern, serveEngine, strict]) p.child.kill("SIGTERM");
  await Promise.all([bare, tern, serveEngine, strict].map((p) => p.child.status));

  const rows = cases.map((c) => {
    const r = results.get(c.name)!;
    const { b, t, ratio } = medianPair(r.b, r.t);
    const cpu = (runs: Run[]) => median(runs.map((x) => x.cpu)).toFixed(1);
    return `| ${c.name} | ${c.bareName} | ${b.rps.toFixed(0)} | ${b.p99.toFixed(2)} | ${
      t.rps.toFixed(0)
    } | ${t.p99.toFixed(2)} | ${ratio.toFixed(2)} | ${
      c.target ? `≥ ${c.target} ${ratio >= c.target ? "✅" : "❌"}` : "—"
    } | ${t.errors} | ${cpu(r.b)} | ${cpu(r.t)} | ${medianCpuRatio(r.b, r.t).toFixed(2)} |`;
  });
  const growth = (after30 - idle) / idle;
  const md = `## Web server (\`lib/web\`)

Command: \`deno run -A tests/bench/web/run.ts\` (wrk, 1 thread, ${CONNS} connections, ${SECONDS} s per side,
${ROUNDS} rounds, each a bare run then a Tern run; the pair with the median ratio is reported; loopback; ${
    new Date().toISOString().slice(0, 10)
  },
Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores shared with other work).
Tern runs as the real agent (database + web services, default local config, access log off);
its default engine is "guarded" (slowloris, idle and socket guards); the "serve engine" row is the
same agent with \`web.engine: "serve"\` (plain Deno.serve, without those guards);
the "strict config" row has \`web.limits.headerSize: 16384\` (an exact header check on every
request) and \`web.securityHeaders: "all"\` (nosniff on every response, a second header).
RSS is the default agent's.

| case | baseline | bare req/s | bare p99 ms | Tern req/s | Tern p99 ms | ratio | target | Tern errors | bare CPU µs/req | Tern CPU µs/req | CPU ratio |
|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|
${rows.join("\n")}

Agent RSS: idle ${idle.toFixed(1)} MB (target ≤ 60 ${idle <= 60 ? "✅" : "❌"}; ${
    idleAnon.toFixed(1)
  } MB of it anonymous, the rest runtime code and data pages; measured alone${
    dropped ? ", page cache dropped first" : ""
  }), peak under load ${peak.toFixed(1)} MB,
right after load ${afterLoad.toFixed(1)} MB, 30 s after load ${after30.toFixed(1)} MB
(${growth >= 0 ? "+" : ""}${(growth * 100).toFixed(0)} % vs idle; target within 20 % ${
    Math.abs(growth) <= 0.2 ? "✅" : "❌"
  }); 30 s after a second load (one more round of every case) ${afterSecond.toFixed(1)} MB (${
    afterSecond >= after30 ? "+" : ""
  }${(afterSecond - after30).toFixed(1)} MB vs the first); then V8 heap ${
    gauge("tern_process_heap_used_bytes").toFixed(1)
  } MB used of ${gauge("tern_process_heap_total_bytes").toFixed(1)} MB, external ${
    gauge("tern_process_external_bytes").toFixed(1)
  } MB.

Notes. The machine is shared with other work (and its host with other machines): bare req/s and
ratios move by ±0.1–0.2 between runs, so read one row as a range. The three CPU columns are a
second view, less sensitive to that: each server's CPU time (user + system, from /proc) per
request served, as medians over the rounds, and the median of the per-round ratios bare ÷ Tern
(1.00: Tern costs what bare costs). The targets are judged on req/s. The authenticated JSON API row
reads an item through a session cookie: after the first request both the session and the item
answer come from memory (evicted at once by every write in the agent, within a second for writes by
another process), so the row measures reading the cookie, the session and access checks, routing
and two response headers (content type and \`no-store\`), not SQLite. The "reference" row is not
Tern: it is bare \`Deno.serve\` reading the cookie and answering the same JSON with the same two
headers, each the cheapest way the runtime allows (one header asked from the runtime; the second
header pushed onto the answer's own list), i.e. the most the API row could reach on this runtime —
a response with any header besides its content type leaves Deno's fastest send path. The idle RSS is the agent's (database + web)
under \`deno run\` with the runtime flags and environment of the start task (\`RUNTIME_FLAGS\`,
\`RUNTIME_ENV\` in deploy/compile.ts: no code cache, a heap settle once idle, two malloc arenas).
`;
  const out = new URL("../results/web.md", import.meta.url).pathname;
  Deno.writeTextFileSync(out, md);
  // Keep the generated file as `deno fmt` wants it (the repo's fmt check covers it).
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", out] }).output();
  console.log(md);
}
