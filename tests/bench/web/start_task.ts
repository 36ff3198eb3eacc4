/**
 * The agent as users start it, for the web benchmark: the `start` task's
 * command read from deno.json at run time (its environment, runtime flags and
 * `--allow-*` flags), with only the listen port, the config directory and the
 * state directory changed: `./config` and `./state` in the permission flags
 * become the bench's directories, `127.0.0.1:8080` the bench's port, and the
 * agent gets `TERN_CONFIG`, `TERN_STATE` and `TERN_WEB_LISTEN` (which the task
 * already allows). The working directory is the repository, as for
 * `deno task start`, so `./routes/site` keeps its meaning.
 *
 * ```ts
 * await using agent = spawnAgent({ configDir, stateDir, port });
 * await agent.until(/"Agent started"/);
 * ```
 *
 * Log lines (the agent's stderr, JSON lines when not a terminal) are kept
 * (the last 500) and can be waited for with `until()`.
 */

import { existsSync } from "node:fs";
import { join } from "node:path";
import { AGENT, appEntry, DIST } from "../../../deploy/build.ts";

/** The repository root (the start task's working directory). */
export const ROOT = new URL("../../../", import.meta.url).pathname.replace(/\/$/, "");

/** A task's command line in `root`'s deno.json (a task is a string or `{ command, dependencies }`). */
export function taskCommand(name: string, root = ROOT): string {
  const task = JSON.parse(Deno.readTextFileSync(join(root, "deno.json"))).tasks?.[name];
  return String(typeof task === "string" ? task : task?.command ?? "");
}

/** A module argument (the start task's entry). */
const isModule = (a: string) => !a.startsWith("-") && /\.[jt]s$/.test(a);

/** The start task's bundle's directory (`dist/agent`, deploy/build.ts). */
export const BUNDLE_DIR = join(ROOT, DIST, AGENT.name);

/** The bundle's entry (the start task's module); throws when it was not built (`deno task test` builds it first). */
export function bundleEntry(root = ROOT): string {
  const entry = join(root, startTask(root).args.find(isModule) ?? "");
  if (!existsSync(entry)) {
    throw new Error(
      `${entry} is missing: run "deno task build" (deno task test does; benches call buildAgent())`,
    );
  }
  return entry;
}

const built = new Map<string, Promise<void>>();

/**
 * The agent the start task runs is the bundle its `build` dependency makes
 * (deno.json, deploy/agent_entry.ts): build it once per process before the
 * first `spawnAgent()` without an `entry` (the benches do; `deno task test` builds before the suite;
 * a device maker's entry is built by `buildEntry`).
 */
export function buildAgent(root = ROOT): Promise<void> {
  let p = built.get(root);
  // (An older tree, ab.ts --base, without a build task runs from source.)
  if (!p) built.set(root, p = taskCommand("build", root) ? runBuild(root) : Promise.resolve());
  return p;
}

async function runBuild(root: string, entry?: string): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "build", ...(entry ? ["--entry", entry] : [])],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`deno task build failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
}

/**
 * A device maker's entry point as the README has them run it: bundled by
 * `deno task build --entry ENTRY` (once per process and tree); the module to
 * run, `dist/NAME.js`, relative to `root`. A tree whose build task takes no
 * entry (ab.ts `--base` of an older commit) runs `entry` from source.
 */
export function buildEntry(entry: string, root = ROOT): Promise<string> {
  const key = `${root}\0${entry}`;
  let p = entryBuilt.get(key);
  if (!p) {
    entryBuilt.set(
      key,
      p = (async () => {
        if (!existsSync(join(root, "deploy/build.ts"))) return entry;
        await runBuild(root, entry);
        return `${DIST}/${appEntry(root, entry).name}.js`;
      })(),
    );
  }
  return p;
}

const entryBuilt = new Map<string, Promise<string>>();

/** The directory of the bundle that `module` (from `buildEntry`) runs; undefined from source. */
export function bundleOf(module: string, root = ROOT): string | undefined {
  return module.endsWith(".js") ? join(root, module.replace(/\.js$/, "")) : undefined;
}

/** The start task, split: environment assignments, then the arguments after `deno`. */
export interface StartTask {
  env: Record<string, string>;
  args: string[];
}

/** The `start` task of deno.json as it is now (a plain command: env, `deno`, arguments). */
export function startTask(root = ROOT): StartTask {
  const cmd = taskCommand("start", root);
  const words = cmd.trim().split(/\s+/);
  const env: Record<string, string> = {};
  while (words.length && /^[A-Z_][A-Z0-9_]*=/.test(words[0]!)) {
    const w = words.shift()!;
    const i = w.indexOf("=");
    env[w.slice(0, i)] = w.slice(i + 1);
  }
  if (words.shift() !== "deno" || words[0] !== "run" || words.some((w) => /["'$`\\|&;]/.test(w))) {
    throw new Error(`The start task is not a plain "deno run" command any more: ${cmd}`);
  }
  return { env, args: words };
}

/**
 * The start task's runtime flags: what comes before its module, without the `--allow-*` flags
 * (`--no-config --lock=agent.lock --frozen --no-code-cache --v8-flags=…`), to run another module
 * the way the task runs its own.
 */
export function runtimeFlags(task = startTask()): string[] {
  return task.args.slice(1, task.args.findIndex(isModule)).filter((a) => !a.startsWith("--allow-"));
}

/** Options of {@linkcode spawnAgent}. */
export interface AgentOptions {
  configDir: string;
  stateDir: string;
  port: number;
  /**
   * Module to run instead of the task's, relative to the root: a device maker's entry point from
   * source, or its bundle (`buildEntry`).
   */
  entry?: string;
  /** Runs Deno: e.g. `["qemu-aarch64-static", armDeno]`. @default [Deno.execPath()] */
  runner?: string[];
  /** `--allow-*` flags instead of the task's (cloud mode: what `tern permissions` derives). */
  permissions?: string[];
  /** Flags added before the module (e.g. `--cpu-prof`; never in a measured run). */
  extraFlags?: string[];
  /** Core to pin the agent to (`taskset -c`). */
  core?: string;
  /** The source tree: its deno.json's start task, its working directory. @default ROOT */
  root?: string;
  /** V8 flags added to the task's `--v8-flags` (to try one: tests/bench/web/ab.ts). */
  v8Flags?: string;
  /** Environment added to the task's. */
  env?: Record<string, string>;
}

/** The command line and environment of an agent: the start task's, changed as the module doc says. */
export function agentCommand(o: AgentOptions, task = startTask(o.root)): {
  cmd: string[];
  env: Record<string, string>;
} {
  const listen = `127.0.0.1:${o.port}`;
  const seen = { config: false, state: false, net: false };
  const swap = (flag: string): string => {
    const m = /^(--allow-(?:read|write|net))=(.*)$/.exec(flag);
    if (!m) return flag;
    const values = m[2]!.split(",").map((v) => {
      if (v === "./config") return (seen.config = true, o.configDir);
      if (v === "./state") return (seen.state = true, o.stateDir);
      if (v === "127.0.0.1:8080") return (seen.net = true, listen);
      return v;
    });
    return `${m[1]}=${values.join(",")}`;
  };
  let args = task.args.map(swap).map((a) =>
    o.v8Flags && a.startsWith("--v8-flags=") ? `${a},${o.v8Flags}` : a
  );
  if (!seen.config || !seen.state || !seen.net) {
    throw new Error(
      `The start task no longer names ./config, ./state and 127.0.0.1:8080 in its permissions: ${
        task.args.join(" ")
      }`,
    );
  }
  const script = args.findIndex(isModule);
  if (script < 0) throw new Error(`No module in the start task: ${task.args.join(" ")}`);
  if (o.permissions) {
    args = [
      ...args.slice(0, script).filter((a) => !a.startsWith("--allow-")),
      ...o.permissions,
      ...args.slice(script),
    ];
  }
  const at = args.findIndex(isModule);
  if (o.entry) args[at] = o.entry;
  else if (task.args.some((a) => a.endsWith(".js"))) bundleEntry(o.root); // built?
  if (o.extraFlags?.length) args.splice(at, 0, ...o.extraFlags);
  const runner = o.runner ?? [Deno.execPath()];
  const cmd = o.core ? ["taskset", "-c", o.core, ...runner, ...args] : [...runner, ...args];
  return {
    cmd,
    env: {
      ...task.env,
      ...o.env,
      TERN_CONFIG: o.configDir,
      TERN_STATE: o.stateDir,
      TERN_WEB_LISTEN: `http://${listen}`,
    },
  };
}

/** A running agent process and its log. */
export interface AgentProcess extends AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly pid: number;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** When it was spawned (performance.now()). */
  readonly spawned: number;
  /** The first log line matching `re` (past or future) and when it was read (performance.now()). */
  until(re: RegExp, timeoutMs?: number): Promise<{ line: string; at: number }>;
  /** The last log lines. */
  log(): string;
  /** SIGTERM, wait (SIGKILL after `ms`); the exit code. */
  stop(ms?: number): Promise<number>;
}

/** Environment the agent inherits from the bench: what a shell has, no TERN_* of its own. */
function baseEnv(): Record<string, string> {
  const keep = ["PATH", "HOME", "DENO_DIR", "TMPDIR", "LANG", "USER"];
  const out: Record<string, string> = {};
  for (const k of keep) {
    const v = Deno.env.get(k);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** Start an agent (see the module doc). */
export function spawnAgent(o: AgentOptions): AgentProcess {
  const { cmd, env } = agentCommand(o);
  const spawned = performance.now();
  const child = new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    cwd: o.root ?? ROOT,
    clearEnv: true,
    env: { ...baseEnv(), ...env },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines: { line: string; at: number }[] = [];
  const waiters: { re: RegExp; resolve: (l: { line: string; at: number }) => void }[] = [];
  let ended = false;
  const onEnd: (() => void)[] = [];
  const pump = (async () => {
    let buf = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      const at = performance.now();
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = { line: buf.slice(0, nl), at };
        buf = buf.slice(nl + 1);
        for (let i = waiters.length - 1; i >= 0; i--) {
          if (waiters[i]!.re.test(line.line)) waiters.splice(i, 1)[0]!.resolve(line);
        }
        lines.push(line);
        if (lines.length > 500) lines.splice(0, lines.length - 400);
      }
    }
    ended = true;
    for (const f of onEnd) f();
  })();
  const log = () => lines.map((l) => l.line).join("\n");
  let status: Promise<number> | undefined;
  const stop = (ms = 15_000) =>
    status ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const t = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, ms);
      const s = await child.status;
      clearTimeout(t);
      await pump;
      return s.code;
    })();
  return {
    child,
    pid: child.pid,
    url: `http://127.0.0.1:${o.port}`,
    spawned,
    until(re, timeoutMs = 60_000) {
      const hit = lines.find((l) => re.test(l.line));
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const fail = (why: string) => () =>
          reject(new Error(`${why} before a log line matched ${re}:\n${log().slice(-3000)}`));
        const timer = setTimeout(fail(`${timeoutMs} ms passed`), timeoutMs);
        const w = {
          re,
          resolve: (l: { line: string; at: number }) => (clearTimeout(timer), resolve(l)),
        };
        waiters.push(w);
        if (ended) fail("the agent exited")();
        else {
          onEnd.push(() => {
            if (waiters.includes(w)) (clearTimeout(timer), fail("the agent exited")());
          });
        }
      });
    },
    log,
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}
