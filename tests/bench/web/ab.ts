/**
 * A/B of two source trees at the same moment: the benchmark agent of each (tests/bench/web/server.ts,
 * Tern's runtime flags) on the server core, each loaded by its own wrk on the first core, both at
 * once. This machine's speed changes in phases (see the results notes); run together, both agents
 * live through the same phases, so the per-round ratio of their CPU per request stays within a few
 * per cent where two runs one after the other differ by half. For changes to the request path:
 *
 * ```sh
 * git worktree add /tmp/base HEAD          # the tree to compare against
 * deno run -A tests/bench/web/ab.ts --base /tmp/base --rounds 8 --path api
 * git worktree remove /tmp/base
 * ```
 *
 * `--path api` is the authenticated item read of the API row, anything else a path (`/action`);
 * `--v8 <flags>` adds V8 flags to the new tree's agent only (to try a flag: `--base .`), `--env K=V`
 * environment variables (comma-separated; to try an allocator setting: `--base .`). Prints each
 * round's CPU µs per request of both and their ratio B/A (< 1: the new tree is cheaper), and the
 * median. Pairs of processes differ by ±2 % on their own (an A/A gives 0.97–1.02): repeat a run
 * before trusting a difference that small.
 *
 * `--a MODE:PATH --b MODE:PATH` compares two servers of this tree instead (MODE `bare` or `tern`,
 * PATH as `--path`), e.g. the layers of the API row (tests/bench/RESULTS.md, "Where the API row stands"):
 * `--a bare:/json --b tern:/layer/json`, then `/layer/json` against `/layer/session`, then
 * `/layer/session` against `api`.
 */

import { RUNTIME_ENV, RUNTIME_FLAGS } from "../../../deploy/compile.ts";
import { median } from "./rounds.ts";
import { readyInfo } from "./run.ts";

function arg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && Deno.args[i + 1] !== undefined ? Deno.args[i + 1]! : fallback;
}

const base = arg("base", "/tmp/base");
const rounds = Number(arg("rounds", "8"));
const path = arg("path", "api");
const extra = arg("v8", "");
/** `--variant serve|strict`: the new tree's agent runs that bench variant (server.ts) instead of the default. */
const variant = arg("variant", "default");
/** `--env K=V[,K=V]`: environment added to the new tree's agent only (to try an allocator setting). */
const extraEnv = Object.fromEntries(
  arg("env", "").split(",").filter((kv) => kv.includes("=")).map((kv) => {
    const i = kv.indexOf("=");
    return [kv.slice(0, i), kv.slice(i + 1)];
  }),
);
/** `--a`/`--b` `MODE:PATH`: two servers of this tree (see the module doc). */
const pairA = arg("a", ""), pairB = arg("b", "");
const cores = navigator.hardwareConcurrency;
const serverCore = String(cores - 1);

interface Agent {
  child: Deno.ChildProcess;
  port: number;
  info: { cookie?: string; item?: string };
  path: string;
}

async function spawn(
  dir: string,
  port: number,
  v8: string,
  env: Record<string, string> = {},
  kind = "default",
  mode = "tern",
  target = path,
): Promise<Agent> {
  // Like run.ts: the bare server runs without Tern's runtime flags.
  const flags = mode === "bare"
    ? []
    : RUNTIME_FLAGS.map((f) => f.startsWith("--v8-flags=") && v8 ? `${f},${v8}` : f);
  const child = new Deno.Command("taskset", {
    args: [
      "-c",
      serverCore,
      Deno.execPath(),
      "run",
      "-A",
      ...flags,
      `${dir}/tests/bench/web/server.ts`,
      mode,
      String(port),
      kind,
    ],
    env: { ...RUNTIME_ENV, ...env },
    stdout: "piped",
  }).spawn();
  return {
    child,
    port,
    info: await readyInfo(child, `the ${mode} server of ${dir}`),
    path: target,
  };
}

/** CPU time a process has used so far, in clock ticks (100 a second). */
function ticks(pid: number): number {
  const f = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]!.split(" ");
  return Number(f[11]) + Number(f[12]);
}

/** Requests one wrk run of `seconds` got answered; `cookie` is for a bare server (an agent sends its session's). */
async function load(a: Agent, seconds: number, cookie: string): Promise<number> {
  const target = a.path === "api" ? `/api/data/Reading/${a.info.item}` : a.path;
  const out = await new Deno.Command("taskset", {
    args: [
      "-c",
      "0",
      "wrk",
      "-t1",
      "-c32",
      `-d${seconds}s`,
      "-H",
      `Cookie: ${a.info.cookie ?? cookie}`,
      `http://127.0.0.1:${a.port}${target}`,
    ],
    stdout: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (/Non-2xx/.test(text)) throw new Error(`errors from ${target}:\n${text}`);
  return Number(/(\d+) requests in/.exec(text)?.[1] ?? 0);
}

function split(pair: string): [string, string] {
  const i = pair.indexOf(":");
  const mode = pair.slice(0, i);
  if (mode !== "bare" && mode !== "tern") throw new Error(`--a/--b: MODE:PATH, not ${pair}`);
  return [mode, pair.slice(i + 1)];
}

if (import.meta.main) {
  if (cores < 2) throw new Error("needs two cores: one for the agents, one for wrk");
  const [modeA, pathA] = pairA ? split(pairA) : ["tern", path];
  const [modeB, pathB] = pairB ? split(pairB) : ["tern", path];
  const a = await spawn(pairA ? "." : base, 8501, "", {}, "default", modeA, pathA);
  const b = await spawn(".", 8502, extra, extraEnv, variant, modeB, pathB);
  // A bare server only checks that a cookie is there.
  const cookie = "tern_session=bare";
  try {
    await Promise.all([load(a, 2, cookie), load(b, 2, cookie)]); // warm both
    const ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const a0 = ticks(a.child.pid), b0 = ticks(b.child.pid);
      const [na, nb] = await Promise.all([load(a, 3, cookie), load(b, 3, cookie)]);
      const ca = (ticks(a.child.pid) - a0) * 10_000 / na;
      const cb = (ticks(b.child.pid) - b0) * 10_000 / nb;
      ratios.push(cb / ca);
      console.log(
        `round ${r + 1}: A ${ca.toFixed(1)} µs/req, B ${cb.toFixed(1)} µs/req, B/A ${
          (cb / ca).toFixed(3)
        }`,
      );
    }
    console.log(`B/A median ${median(ratios).toFixed(3)} over ${rounds} rounds`);
  } finally {
    for (const x of [a, b]) {
      x.child.kill("SIGTERM");
      await x.child.status;
    }
  }
}
