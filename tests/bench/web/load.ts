/**
 * Load and readings for the web benchmark: one `wrk` run (1 thread,
 * `CONNS` connections) against a URL, with the serving process's CPU time per
 * request (/proc/PID/stat), and RSS readings (/proc/PID/status).
 *
 * Servers run on the last core and wrk on the first (`taskset`, when there are
 * two cores or more and `WEB_BENCH_PIN` is not "0"): every server runs where the
 * others ran, and wrk never competes with a server for a core.
 */

import { join } from "node:path";
import type { Run } from "./rounds.ts";

/** Connections per wrk run. */
export const CONNS = 32;

/** Servers and wrk are pinned (see the module doc). */
export const PIN = Deno.env.get("WEB_BENCH_PIN") !== "0" && navigator.hardwareConcurrency >= 2 &&
  (() => {
    try {
      return new Deno.Command("taskset", { args: ["-V"], stdout: "null", stderr: "null" })
        .outputSync().success;
    } catch {
      return false; // not installed
    }
  })();

/** The servers' core (`taskset -c`), or undefined when not pinning. */
export const SERVER_CORE = PIN ? String(navigator.hardwareConcurrency - 1) : undefined;

/** One request kind: what wrk sends. */
export interface Target {
  url: string;
  headers?: string[];
  /** PATCH/POST with this JSON body (a wrk Lua script). */
  method?: string;
  body?: string;
  /** The status every answer has; other statuses count as errors. @default 2xx or 3xx */
  status?: number;
}

/** A wrk Lua script setting method and body, written once per target in `dir`. */
function script(dir: string, t: Target): string | undefined {
  if (!t.method) return undefined;
  const path = join(dir, `wrk-${t.method}-${t.body?.length ?? 0}-${Math.random()}.lua`);
  Deno.writeTextFileSync(
    path,
    `wrk.method = ${JSON.stringify(t.method)}\nwrk.body = ${
      JSON.stringify(t.body ?? "")
    }\nwrk.headers["Content-Type"] = "application/json"\n`,
  );
  return path;
}

function ms(v: string): number {
  const m = /([\d.]+)(us|ms|s)/.exec(v)!;
  return Number(m[1]) * (m[2] === "us" ? 0.001 : m[2] === "s" ? 1000 : 1);
}

/** CPU time a process has used so far, µs (utime + stime, 100 ticks a second). */
export function cpuUs(pid: number): number {
  const f = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) * 10_000;
}

/** A /proc/PID/status field in MB (VmRSS, RssAnon, RssFile, VmHWM). */
export function rssMb(pid: number, field = "VmRSS"): number {
  const s = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(s)![1]) / 1024;
}

const scripts = new Map<Target, string | undefined>();

/** One wrk run of `seconds` against `t`, served by process `pid`. `tmp`: where Lua scripts go. */
export async function wrk(t: Target, pid: number, seconds: number, tmp: string): Promise<Run> {
  if (!scripts.has(t)) scripts.set(t, script(tmp, t));
  const lua = scripts.get(t);
  const args = ["-t1", `-c${CONNS}`, `-d${seconds}s`, "--latency"];
  for (const h of t.headers ?? []) args.push("-H", h);
  if (lua) args.push("-s", lua);
  args.push(t.url);
  const cpu0 = cpuUs(pid);
  const cmd = PIN ? ["taskset", "-c", "0", "wrk", ...args] : ["wrk", ...args];
  const out = await new Deno.Command(cmd[0]!, { args: cmd.slice(1), stdout: "piped" }).output();
  const cpu = cpuUs(pid) - cpu0;
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success || !/requests in/.test(text)) {
    throw new Error(`wrk failed on ${t.url}:\n${text}`);
  }
  const n = Number(/(\d+) requests in/.exec(text)?.[1] ?? 0);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? 0);
  const p99 = ms(/\s99%\s+(\S+)/.exec(text)?.[1] ?? "0ms");
  // wrk counts statuses >= 400 as "Non-2xx or 3xx"; a case that expects one (the 404) does not.
  const non2xx = t.status && t.status >= 400
    ? 0
    : Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, p99, errors, cpu: n > 0 ? cpu / n : NaN };
}

/** One request as wrk sends it (checks the status); the answer. */
export async function once(t: Target): Promise<Response> {
  const headers: Record<string, string> = {};
  for (const h of t.headers ?? []) {
    const i = h.indexOf(":");
    headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
  }
  if (t.method) headers["content-type"] = "application/json";
  const res = await fetch(t.url, {
    method: t.method ?? "GET",
    headers,
    ...(t.body !== undefined ? { body: t.body } : {}),
  });
  const ok = t.status ? res.status === t.status : res.status < 400;
  if (!ok) throw new Error(`${t.method ?? "GET"} ${t.url}: ${res.status} ${await res.text()}`);
  return res;
}

/** Drop the kernel's page cache (root only); whether it was done. */
export function dropCaches(): boolean {
  try {
    new Deno.Command("sync").outputSync();
    Deno.writeTextFileSync("/proc/sys/vm/drop_caches", "3");
    return true;
  } catch {
    return false;
  }
}
