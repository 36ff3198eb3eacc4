/**
 * Dashboard benchmark (routes/site, docs/dashboard.md): the agent as
 * `deno task start` runs it (the start task's flags and environment from
 * deno.json, tests/bench/web/start_task.ts; the default config, an admin
 * created with the logged setup token and logged in over the API), on
 * loopback:
 *
 * 1. Its CPU (utime + stime of the process, /proc/PID/stat) and RSS
 *    (/proc/PID/status, sampled every second) over `--seconds` (60) with no
 *    dashboard open, then with N = 1 and N = 5 dashboards on the Overview:
 *    each one an SSE stream `GET /api/events?topics=status` (what
 *    overview.js opens) held by `fetch` with the session cookie and read to
 *    the end of the window.
 * 2. The first load of the site: every file the Overview loads (index.html,
 *    favicon and style, then the module graph of js/app.js read from the
 *    files' imports), fetched level by level as a browser does (each level in
 *    parallel), with `Accept-Encoding: br, gzip`: bytes on the wire
 *    (Content-Length of the compressed answers) and time, against a bare
 *    `Deno.serve` (its own process, default flags) answering the same bytes
 *    with the same content type and encoding, in the same run: the agent's
 *    very first load (cold), then `--loads` (30) alternating Tern and bare.
 *    The two API calls the Overview makes before its stream (`/api/auth/me`,
 *    `/api/status`) are timed apart.
 * 3. With `--browser` and /usr/bin/chromium: Chromium (playwright-core)
 *    opening `/#/` with the session cookie until the Overview's cards are
 *    rendered, median of 5 (each in a fresh context).
 *
 * Run: deno run --allow-all tests/bench/dashboard_bench.ts [--seconds 60] [--loads 30] [--browser]
 * Writes tests/bench/results/dashboard.md.
 */

import { join } from "node:path";
import { freePort } from "../../deploy/free_port.ts";
import { adminSession, writeConfig } from "./web/configs.ts";
import { buildAgent, ROOT, spawnAgent } from "./web/start_task.ts";

interface BareFile {
  type: string;
  encoding?: string;
  /** base64 */
  body: string;
}

function arg(name: string, def: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : def;
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f = (n: number, d = 1) => n.toFixed(d);

/** The Overview's files, by level: what the browser can only ask for after the level before. */
function overviewFiles(): string[][] {
  const site = join(ROOT, "routes/site");
  const levels: string[][] = [["/"], ["/favicon.svg", "/style.css", "/js/app.js"]];
  const seen = new Set(levels.flat());
  let frontier = ["/js/app.js"];
  while (frontier.length) {
    const next: string[] = [];
    for (const p of frontier) {
      const text = Deno.readTextFileSync(join(site, p));
      for (
        const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^"';]*?["'](\.{1,2}\/[^"']+)["']/g)
      ) {
        const u = new URL(m[1]!, `http://x${p}`).pathname;
        if (!seen.has(u)) (seen.add(u), next.push(u));
      }
    }
    if (next.length) levels.push(next);
    frontier = next;
  }
  return levels;
}

interface Load {
  ms: number;
  wire: number;
  raw: number;
}

async function loadOnce(base: string, levels: string[][], headers: HeadersInit): Promise<Load> {
  const t0 = performance.now();
  let wire = 0;
  let raw = 0;
  for (const level of levels) {
    await Promise.all(level.map(async (p) => {
      const r = await fetch(base + p, { headers: { "accept-encoding": "br, gzip", ...headers } });
      if (r.status !== 200) throw new Error(`GET ${p}: ${r.status}`);
      const body = new Uint8Array(await r.arrayBuffer());
      wire += Number(r.headers.get("content-length") ?? body.length);
      raw += body.length;
    }));
  }
  return { ms: performance.now() - t0, wire, raw };
}

function procStat(pid: number): { cpuMs: number; rssMb: number } {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
  const rss = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))?.[1];
  return { cpuMs: ticks * 10, rssMb: Number(rss) / 1024 };
}

interface Window {
  cpuPct: number;
  rssMean: number;
  rssMax: number;
  /** SSE bytes per second per client. */
  sseRate: number;
  events: number;
}

async function window(
  pid: number,
  url: string,
  cookie: string,
  clients: number,
  seconds: number,
): Promise<Window> {
  const stop = new AbortController();
  let bytes = 0;
  let events = 0;
  const streams = await Promise.all(Array.from({ length: clients }, async () => {
    const r = await fetch(`${url}/api/events?topics=status`, {
      headers: { cookie, accept: "text/event-stream" },
      signal: stop.signal,
    });
    if (r.status !== 200) throw new Error(`/api/events: ${r.status} ${await r.text()}`);
    // Wrapped: an async function returning a promise would wait for it (the whole stream).
    return {
      done: (async () => {
        const dec = new TextDecoder();
        try {
          for await (const chunk of r.body!) {
            bytes += chunk.length;
            events += (dec.decode(chunk, { stream: true }).match(/^event: status$/gm) ?? []).length;
          }
        } catch { /* aborted at the end */ }
      })(),
    };
  }));
  await new Promise((r) => setTimeout(r, 1000)); // the streams' first events are in
  bytes = 0;
  events = 0;
  const s0 = procStat(pid);
  const t0 = performance.now();
  const rss: number[] = [];
  while (performance.now() - t0 < seconds * 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    rss.push(procStat(pid).rssMb);
  }
  const s1 = procStat(pid);
  const elapsed = performance.now() - t0;
  const got = bytes;
  const ev = events;
  stop.abort();
  await Promise.all(streams.map((s) => s.done));
  return {
    cpuPct: (100 * (s1.cpuMs - s0.cpuMs)) / elapsed,
    rssMean: rss.reduce((a, b) => a + b, 0) / rss.length,
    rssMax: Math.max(...rss),
    sseRate: clients ? got / clients / (elapsed / 1000) : 0,
    events: clients ? ev / clients : 0,
  };
}

async function browserRender(url: string, cookie: string): Promise<number[] | undefined> {
  try {
    Deno.statSync("/usr/bin/chromium");
  } catch {
    return undefined;
  }
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true });
  const out: number[] = [];
  try {
    const [name, value] = cookie.split("=") as [string, string];
    for (let i = 0; i < 5; i++) {
      const ctx = await browser.newContext();
      await ctx.addCookies([{ name, value, url }]);
      const page = await ctx.newPage();
      const t0 = performance.now();
      await page.goto(`${url}/#/`);
      await page.waitForSelector("main#view .card", { timeout: 20_000 });
      out.push(performance.now() - t0);
      await ctx.close();
    }
  } finally {
    await browser.close();
  }
  return out;
}

async function main() {
  await buildAgent();
  const SECONDS = arg("seconds", 60);
  const LOADS = arg("loads", 30);
  const BROWSER = Deno.args.includes("--browser");
  const dir = await Deno.makeTempDir({ prefix: "tern-dashboard-bench-" });
  try {
    await run(dir, SECONDS, LOADS, BROWSER);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function run(dir: string, SECONDS: number, LOADS: number, BROWSER: boolean) {
  const configDir = writeConfig(join(dir, "config"), "default");
  const stateDir = join(dir, "state");
  await Deno.mkdir(stateDir);
  const port = freePort();
  await using agent = spawnAgent({ configDir, stateDir, port });
  await agent.until(/"Agent started"/);
  const { cookie } = await adminSession(agent);
  const levels = overviewFiles();
  const files = levels.flat();

  // First load, cold (nothing asked of the agent's static files yet).
  const cold = await loadOnce(agent.url, levels, {});
  const api: number[] = [];
  const apiOnce = async () => {
    const t0 = performance.now();
    for (const p of ["/api/auth/me", "/api/status"]) {
      const r = await fetch(agent.url + p, { headers: { cookie } });
      if (r.status !== 200) throw new Error(`GET ${p}: ${r.status}`);
      await r.arrayBuffer();
    }
    return performance.now() - t0;
  };
  const apiCold = await apiOnce();

  // The bare server gets the very bytes and headers the agent sent.
  const spec: Record<string, BareFile> = {};
  for (const p of files) {
    const r = await fetch(agent.url + p, { headers: { "accept-encoding": "br, gzip" } });
    const enc = r.headers.get("content-encoding") ?? undefined;
    const type = r.headers.get("content-type") ?? "application/octet-stream";
    // fetch decodes br/gzip: read the stored variant the agent sent instead.
    const stored = p === "/" ? "/index.html" : p;
    const bytes = enc
      ? await Deno.readFile(join(ROOT, "routes/site", stored + (enc === "br" ? ".br" : ".gz")))
      : new Uint8Array(await r.arrayBuffer());
    if (enc) await r.body?.cancel();
    spec[p] = { type, ...(enc ? { encoding: enc } : {}), body: bytes.toBase64() };
  }
  const specPath = join(dir, "bare.json");
  await Deno.writeTextFile(specPath, JSON.stringify(spec));
  const barePort = freePort();
  const bare = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--allow-net=127.0.0.1:${barePort}`,
      `--allow-read=${specPath}`,
      new URL(import.meta.url).pathname,
      "--bare",
      String(barePort),
      specPath,
    ],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const bareUrl = `http://127.0.0.1:${barePort}`;
  for (let i = 0; i < 100; i++) {
    try {
      await (await fetch(bareUrl + "/")).arrayBuffer();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const bareCold = await loadOnce(bareUrl, levels, {});
  const tern: Load[] = [];
  const bareLoads: Load[] = [];
  for (let i = 0; i < LOADS; i++) {
    bareLoads.push(await loadOnce(bareUrl, levels, {}));
    tern.push(await loadOnce(agent.url, levels, {}));
    api.push(await apiOnce());
  }
  bare.kill("SIGTERM");
  await bare.status;

  // Idle, then 1 and 5 dashboards on the Overview.
  await new Promise((r) => setTimeout(r, 5000)); // settle after the loads
  const windows: [number, Window][] = [];
  for (const n of [0, 1, 5]) {
    windows.push([n, await window(agent.pid, agent.url, cookie, n, SECONDS)]);
    console.log(`N=${n}: ${JSON.stringify(windows.at(-1)![1])}`);
  }
  const render = BROWSER ? await browserRender(agent.url, cookie) : undefined;
  await agent.stop();

  const load = Deno.loadavg().map((x) => x.toFixed(2)).join(", ");
  const tMs = med(tern.map((x) => x.ms));
  const bMs = med(bareLoads.map((x) => x.ms));
  const idle = windows[0]![1];
  const table = [
    "# Dashboard (routes/site and /api/events on the agent as shipped vs bare Deno.serve)",
    "",
    `Command: \`deno run --allow-all tests/bench/dashboard_bench.ts --seconds ${SECONDS} --loads ${LOADS}${
      BROWSER ? " --browser" : ""
    }\` (Deno ${Deno.version.deno}; the agent with the start task's flags and environment, default config, ` +
    `an admin logged in over the API; loopback). Load average at the end: ${load} (shared 2-core machine).`,
    "",
    `| agent over ${SECONDS} s | CPU, % of one core | RSS mean MB | RSS max MB | SSE bytes/s per dashboard | status events per dashboard |`,
    "|---|---:|---:|---:|---:|---:|",
    ...windows.map(([n, w]) =>
      `| ${
        n === 0 ? "idle, no dashboard" : `${n} dashboard${n > 1 ? "s" : ""} on the Overview (SSE)`
      } | ${f(w.cpuPct, 2)} | ${f(w.rssMean)} | ${f(w.rssMax)} | ${n ? f(w.sseRate, 0) : "—"} | ${
        n ? f(w.events, 0) : "—"
      } |`
    ),
    `| CPU per dashboard (N = 5, above idle) | ${
      f((windows[2]![1].cpuPct - idle.cpuPct) / 5, 2)
    } | | | | |`,
    "",
    `| first load of the Overview: ${files.length} files in ${levels.length} levels | ms | bytes on the wire (br) | bytes decoded |`,
    "|---|---:|---:|---:|",
    `| Tern, the agent's first load (cold) | ${f(cold.ms)} | ${cold.wire} | ${cold.raw} |`,
    `| bare \`Deno.serve\`, its first load | ${
      f(bareCold.ms)
    } | ${bareCold.wire} | ${bareCold.raw} |`,
    `| Tern, warm (median of ${LOADS}) | ${f(tMs)} | ${tern[0]!.wire} | ${tern[0]!.raw} |`,
    `| bare, warm (median of ${LOADS}) | ${f(bMs)} | ${bareLoads[0]!.wire} | ${
      bareLoads[0]!.raw
    } |`,
    `| ratio (bare / Tern time, warm; 1.0 = as fast as bare) | ${f(bMs / tMs, 2)} | | |`,
    `| Overview's API calls before its stream (\`/api/auth/me\` + \`/api/status\`), cold / warm median | ${
      f(apiCold)
    } / ${f(med(api))} | | |`,
    ...(render
      ? [
        "",
        `Chromium (playwright-core, headless) from \`goto("/#/")\` to the Overview's cards rendered: ` +
        `median ${f(med(render), 0)} ms (${
          render.map((x) => f(x, 0)).join(", ")
        }), fresh context each time.`,
      ]
      : []),
    "",
    `Files: ${levels.map((l) => l.join(" ")).join(" → ")}.`,
    "",
  ].join("\n");
  await Deno.writeTextFile(new URL("./results/dashboard.md", import.meta.url), table + "\n");
  console.log(table);
}

// --- the bare server (child process, default flags) --------------------------------
if (Deno.args[0] === "--bare") {
  const spec: Record<string, BareFile> = JSON.parse(Deno.readTextFileSync(Deno.args[2]!));
  const routes = new Map(
    Object.entries(spec).map(([p, f]) => [p, {
      bytes: Uint8Array.fromBase64(f.body),
      headers: {
        "content-type": f.type,
        ...(f.encoding ? { "content-encoding": f.encoding, vary: "Accept-Encoding" } : {}),
      },
    }]),
  );
  Deno.serve({ hostname: "127.0.0.1", port: Number(Deno.args[1]), onListen() {} }, (req) => {
    const r = routes.get(new URL(req.url).pathname);
    return r ? new Response(r.bytes, { headers: r.headers }) : new Response(null, { status: 404 });
  });
} else if (import.meta.main) await main();
