/**
 * `agent.lock`: the part of `deno.lock` the agent itself runs on, for the start
 * task and the `tern` task (`deno run --lock=agent.lock --frozen`).
 *
 * `deno.lock` also pins every package the tests and benchmarks use (the AWS
 * SDK for conformance tests, aedes, dynalite, s3rver, playwright: 260 packages),
 * and `deno run` reads the whole lockfile at start: an idle local agent was
 * 1.5 MB larger with it than with a lockfile of its own packages
 * (docs/performance.md, Memory). This file holds the npm packages that
 * `main.ts` and the modules it loads later (`LATER_MODULES`, lib/later.ts)
 * resolve, with their dependencies, copied from `deno.lock` (same versions
 * and integrity hashes, nothing resolved anew), and `deno.lock`'s workspace
 * section, which Deno compares with deno.json's imports.
 *
 * Run after changing dependencies (`deno task lock:agent`); `--check` exits 1
 * when the committed file differs (tests/agent_lock_test.ts).
 *
 * @module
 */

import { LATER_MODULES } from "../lib/later.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

interface Lockfile {
  version: string;
  specifiers?: Record<string, string>;
  npm?: Record<string, { dependencies?: string[]; [k: string]: unknown }>;
  workspace?: unknown;
  [k: string]: unknown;
}

/** The npm packages (`name@version`) and specifiers `entry`'s module graph resolves. */
async function npmRoots(root: string, entry: string): Promise<{ pkgs: string[]; specs: string[] }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`deno info ${entry} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { kind?: string; npmPackage?: string }[];
    redirects?: Record<string, string>;
  };
  return {
    pkgs: info.modules.filter((m) => m.kind === "npm" && m.npmPackage).map((m) => m.npmPackage!),
    specs: Object.keys(info.redirects ?? {}).filter((s) => /^npm:[^/]/.test(s)),
  };
}

/** The text of `agent.lock` for the tree at `root`, derived from its `deno.lock`. */
export async function agentLock(root = ROOT): Promise<string> {
  const full = JSON.parse(Deno.readTextFileSync(`${root}/deno.lock`)) as Lockfile;
  const npm = full.npm ?? {};
  const byName = new Map<string, string[]>();
  for (const key of Object.keys(npm)) {
    const name = key.slice(0, key.indexOf("@", 1));
    byName.set(name, [...byName.get(name) ?? [], key]);
  }
  const keep = new Set<string>();
  const specs = new Set<string>();
  const visit = (key: string) => {
    if (keep.has(key)) return;
    if (!npm[key]) throw new Error(`deno.lock has no entry for ${key}: run "deno cache main.ts"`);
    keep.add(key);
    for (const dep of npm[key].dependencies ?? []) {
      // A dependency is "name@version", or "name" when deno.lock holds one version of it.
      const at = dep.indexOf("@", 1);
      const depKey = at > 0 ? dep : byName.get(dep)?.[0];
      if (!depKey || (at < 0 && byName.get(dep)!.length !== 1)) {
        throw new Error(`Cannot resolve ${dep} (a dependency of ${key}) in deno.lock`);
      }
      visit(depKey);
    }
  };
  for (const entry of ["main.ts", ...LATER_MODULES]) {
    const found = await npmRoots(root, entry);
    found.pkgs.forEach(visit);
    found.specs.forEach((s) => specs.add(s));
  }
  const pick = <T>(from: Record<string, T>, keys: Set<string>) =>
    Object.fromEntries(Object.entries(from).filter(([k]) => keys.has(k)));
  const lock: Lockfile = { version: full.version };
  lock.specifiers = pick(full.specifiers ?? {}, specs);
  lock.npm = pick(npm, keep);
  if (full.workspace) lock.workspace = full.workspace;
  return JSON.stringify(lock, null, 2) + "\n";
}

if (import.meta.main) {
  const text = await agentLock();
  const path = `${ROOT}/agent.lock`;
  if (Deno.args.includes("--check")) {
    let committed = "";
    try {
      committed = Deno.readTextFileSync(path);
    } catch { /* missing: differs */ }
    if (committed !== text) {
      console.error(`agent.lock is not derived from deno.lock: run "deno task lock:agent"`);
      Deno.exit(1);
    }
  } else {
    Deno.writeTextFileSync(path, text);
    const n = Object.keys(JSON.parse(text).npm ?? {}).length;
    console.log(`agent.lock: ${n} npm packages`);
  }
}
