/**
 * What a dependency costs the agent as users run it: the agent started as the
 * `start` task starts it (its runtime flags, env and scoped permissions,
 * default config: local mode, database + web), variant after variant in turn
 * (A B C … A B C …), each round after one warm-up run per variant. For each
 * run: the time from exec until `GET /api/health` answers 200, and the
 * resident set 4 s later (VmRSS, and its anonymous and file-backed parts from
 * /proc/PID/status). Prints medians and each variant's difference from the
 * first; writes `tests/bench/results/deps.md`. Results: docs/dependencies.md.
 *
 * Variants:
 * - default: the tree at `--base REV` (default HEAD; `.` for the working
 *   tree) as it is, then with each candidate library imported on top of the
 *   CLI (its namespace kept reachable): what loading the library costs, the
 *   npm loader included.
 * - `--tree NAME=REV` (repeatable): the whole tree at git revision REV
 *   (`git archive`, under .build/deps_bench/) or `.` for the working tree,
 *   started from its own `main.ts`: a replacement measured as it was made.
 * - `--bundle`: every variant's entry first bundled with `deno bundle`
 *   (npm code inlined: no npm resolver at run time), as a build step for
 *   the binary would do.
 *
 *   deno run -A tests/bench/deps_bench.ts [--rounds 7] [--bundle] [--only SUBSTRING]...
 *     [--tree ours=REV --tree lib=.]
 *
 * `--only` keeps the candidates whose name contains SUBSTRING (repeatable).
 *
 * Each run gets its own loopback port; each variant keeps one state directory
 * (a restart, not a first start, after the warm-up).
 */

import { RUNTIME_ENV, RUNTIME_FLAGS } from "../../deploy/compile.ts";
import { freePort } from "../../deploy/free_port.ts";

const root = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const work = `${root}/.build/deps_bench`;

/**
 * Valibot schemas at the config schema's scale (lib/config: 9 sections, 36 objects, about 180
 * leaves with their checks), parsed once at load as the loader parses the default config: what
 * using it, not only loading it, costs (`v` is the valibot namespace).
 */
const VALIBOT_CONFIG = `
const leaf = (i: number) => [
  v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 1000),
  v.optional(v.picklist(["a", "b", "c"]), "a"),
  v.optional(v.pipe(v.string(), v.minLength(1)), "x"),
  v.optional(v.boolean(), true),
  v.optional(v.pipe(v.string(), v.regex(/^[a-z]+$/, "letters"))),
  v.optional(v.record(v.pipe(v.string(), v.regex(/^[a-z]+$/)), v.array(v.string())), {}),
  v.optional(v.union([v.picklist(["env", "none"]), v.pipe(v.string(), v.url())]), "env"),
  v.optional(v.pipe(v.array(v.pipe(v.string(), v.check((s) => s !== "", "a URL"))), v.minLength(1)), ["a"]),
][i % 8]!;
const object = (n: number, nested: number, at: number) => {
  const entries: Record<string, v.GenericSchema> = {};
  for (let i = 0; i < n; i++) entries["k" + i] = leaf(at + i);
  for (let j = 0; j < nested; j++) entries["o" + j] = object(3, 0, at + n + 3 * j);
  return v.optional(v.pipe(
    v.strictObject(entries),
    v.forward(v.check((o) => o !== null, "must"), ["k0"]),
  ), {});
};
const sections: Record<string, v.GenericSchema> = {};
for (let s = 0; s < 9; s++) sections["s" + s] = object(11, 3, s);
(globalThis as Record<string, unknown>).__config = v.parse(v.strictObject(sections), {});
`;

/**
 * The same schemas in lib/validate, built and parsed once more on top of the agent's own: what our
 * schemas at that scale cost, to set against the valibot figure (`z` is lib/validate).
 */
const OURS_CONFIG = `
const leaf = (i: number) => [
  z.number().int().min(0).default(1000),
  z.enum(["a", "b", "c"]).default("a"),
  z.string().min(1).default("x"),
  z.boolean().default(true),
  z.string().regex(/^[a-z]+$/, "letters").optional(),
  z.record(z.string().regex(/^[a-z]+$/), z.array(z.string())).default({}),
  z.union([z.enum(["env", "none"]), z.string().url()]).default("env"),
  z.array(z.string().refine((s) => s !== "", "a URL")).min(1).default(["a"]),
][i % 8]!;
const object = (n: number, nested: number, at: number) => {
  const entries: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) entries["k" + i] = leaf(at + i);
  for (let j = 0; j < nested; j++) entries["o" + j] = object(3, 0, at + n + 3 * j);
  return z.strictObject(entries).superRefine((o, ctx) => {
    if (o === null) ctx.addIssue({ path: ["k0"], message: "must" });
  }).prefault({});
};
const sections: Record<string, unknown> = {};
for (let s = 0; s < 9; s++) sections["s" + s] = object(11, 3, s);
(globalThis as Record<string, unknown>).__config = z.strictObject(sections).parse({});
`;

/** Candidates loaded on top of the agent: imports (namespaces m0, m1, …) and code using them. */
const CANDIDATES: Record<string, { imports: string[]; code?: string }> = {
  "npm:json5@2.2.3 (CJS main)": { imports: ["npm:json5@2.2.3"] },
  "npm:json5@2.2.3/dist/index.mjs (ESM)": { imports: ["npm:json5@2.2.3/dist/index.mjs"] },
  "npm:@noble/hashes@2.4.0/sha2.js": { imports: ["npm:@noble/hashes@2.4.0/sha2.js"] },
  "npm:valibot@1.5.0": { imports: ["npm:valibot@1.5.0"] },
  "npm:valibot@1.5.0, config-scale schemas": {
    imports: ["npm:valibot@1.5.0"],
    code: `const v = m0;\n${VALIBOT_CONFIG}`,
  },
  "ours (lib/validate), config-scale schemas once more": {
    imports: ["../../lib/validate/mod.ts"],
    code: `const z = m0;\n${OURS_CONFIG}`,
  },
  "npm:zod@4.6.7/mini": { imports: ["npm:zod@4.6.7/mini"] },
  "npm:zod@4.6.7": { imports: ["npm:zod@4.6.7"] },
  "json5 (ESM) + noble": {
    imports: ["npm:json5@2.2.3/dist/index.mjs", "npm:@noble/hashes@2.4.0/sha2.js"],
  },
  "json5 (ESM) + noble + valibot": {
    imports: [
      "npm:json5@2.2.3/dist/index.mjs",
      "npm:@noble/hashes@2.4.0/sha2.js",
      "npm:valibot@1.5.0",
    ],
  },
  "json5 (ESM) + noble + valibot, config-scale schemas": {
    imports: [
      "npm:valibot@1.5.0",
      "npm:json5@2.2.3/dist/index.mjs",
      "npm:@noble/hashes@2.4.0/sha2.js",
    ],
    code: `const v = m0;\n${VALIBOT_CONFIG}`,
  },
};

interface Variant {
  name: string;
  /** Working directory (a tree root). */
  cwd: string;
  /** Entry module run in place of main.ts. */
  entry: string;
  ms: number[];
  rss: number[];
  anon: number[];
  file: number[];
}

function parseArgs(args: string[]) {
  const out = {
    rounds: 7,
    bundle: false,
    base: "HEAD",
    trees: [] as [string, string][],
    only: [] as string[],
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--rounds") out.rounds = Number(args[++i]);
    else if (a === "--bundle") out.bundle = true;
    else if (a === "--only") out.only.push(args[++i]!);
    else if (a === "--base") out.base = args[++i]!;
    else if (a === "--tree") {
      const [name, rev] = args[++i]!.split("=") as [string, string];
      out.trees.push([name, rev]);
    } else throw new TypeError(`Unknown argument "${a}"`);
  }
  return out;
}

function run(cmd: string, args: string[], cwd = root): string {
  const r = new Deno.Command(cmd, { args, cwd, stderr: "piped", stdout: "piped" }).outputSync();
  if (!r.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
  }
  return new TextDecoder().decode(r.stdout);
}

/** The tree at `rev` under .build/deps_bench/trees/NAME (or the working tree for "."). */
function tree(name: string, rev: string): string {
  if (rev === ".") return root;
  const dir = `${work}/trees/${name}`;
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch {
    // not there yet
  }
  Deno.mkdirSync(dir, { recursive: true });
  const tar = `${dir}.tar`;
  run("git", ["archive", "-o", tar, rev]);
  run("tar", ["-xf", tar, "-C", dir]);
  Deno.removeSync(tar);
  return dir;
}

/** An entry that imports `specs` (kept reachable), runs `code`, then the CLI of the tree at `cwd`. */
function loadEntry(cwd: string, i: number, specs: string[], code = ""): string {
  const dir = `${cwd}/.build/deps_bench`;
  Deno.mkdirSync(dir, { recursive: true });
  const path = `${dir}/load_${i}.ts`;
  Deno.writeTextFileSync(
    path,
    specs.map((s, j) => `import * as m${j} from ${JSON.stringify(s)};\n`).join("") +
      `(globalThis as Record<string, unknown>).__deps = [${specs.map((_, j) => `m${j}`)}];\n` +
      code +
      `import { main } from "../../main.ts";\nDeno.exit(await main(Deno.args));\n`,
  );
  return path;
}

/** Bundle `entry` beside itself, two levels below its tree root as the sources' own files sit. */
function bundle(cwd: string, entry: string, i: number): string {
  const out = `${cwd}/.build/deps_bench/bundle_${i}.js`;
  run(Deno.execPath(), ["bundle", "--quiet", "--platform=deno", "-o", out, entry], cwd);
  return out;
}

function status(pid: number, field: string): number {
  const s = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(s)![1]) / 1024;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One start of `v`: ms until /api/health is 200, then the RSS once idle. */
async function once(v: Variant, state: string): Promise<void> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    // The start task's command line (deno.json "tasks.start"), with this run's port and state.
    args: [
      "run",
      ...RUNTIME_FLAGS,
      `--allow-read=./config,${state},./routes/site`,
      `--allow-write=${state}`,
      `--allow-net=127.0.0.1:${port}`,
      "--allow-env=TERN_AWS_REGION,TERN_CONFIG,TERN_DEVICE_ID,TERN_LOG_LEVEL,TERN_MQTT_URL," +
      "TERN_PROFILE,TERN_STATE,TERN_WEB_LISTEN",
      v.entry,
      "run",
    ],
    cwd: v.cwd,
    env: {
      ...RUNTIME_ENV,
      DENO_NO_UPDATE_CHECK: "1",
      TERN_STATE: state,
      TERN_WEB_LISTEN: `http://127.0.0.1:${port}`,
    },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const t0 = performance.now();
  let ms = NaN;
  try {
    while (performance.now() - t0 < 20_000) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/api/health`);
        await r.body?.cancel();
        if (r.status === 200) {
          ms = performance.now() - t0;
          break;
        }
      } catch {
        // not listening yet
      }
      await sleep(5);
    }
    if (Number.isNaN(ms)) throw new Error(`${v.name}: no /api/health within 20 s`);
    await sleep(4000);
    v.ms.push(ms);
    v.rss.push(status(child.pid, "VmRSS"));
    v.anon.push(status(child.pid, "RssAnon"));
    v.file.push(status(child.pid, "RssFile"));
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

if (import.meta.main) {
  const opts = parseArgs(Deno.args);
  Deno.mkdirSync(work, { recursive: true });
  const variants: Variant[] = [];
  const add = (name: string, cwd: string, entry: string) =>
    variants.push({ name, cwd, entry, ms: [], rss: [], anon: [], file: [] });
  if (opts.trees.length) {
    for (const [name, rev] of opts.trees) {
      const cwd = tree(name, rev);
      add(`${name} (${rev === "." ? "working tree" : rev})`, cwd, `${cwd}/main.ts`);
    }
  } else {
    const cwd = tree("base", opts.base);
    add(`as it is (${opts.base === "." ? "working tree" : opts.base})`, cwd, loadEntry(cwd, 0, []));
    Object.entries(CANDIDATES).forEach(([name, { imports, code }], i) => {
      if (!opts.only.length || opts.only.some((o) => name.includes(o))) {
        add(`+ ${name}`, cwd, loadEntry(cwd, i + 1, imports, code));
      }
    });
  }
  if (opts.bundle) variants.forEach((v, i) => v.entry = bundle(v.cwd, v.entry, i));
  const states = variants.map((_, i) => Deno.makeTempDirSync({ prefix: `deps_bench_${i}_` }));
  try {
    for (const [i, v] of variants.entries()) await once(v, states[i]!); // warm-up, first start
    for (const v of variants) Object.assign(v, { ms: [], rss: [], anon: [], file: [] });
    for (let r = 0; r < opts.rounds; r++) {
      for (const [i, v] of variants.entries()) await once(v, states[i]!);
    }
  } finally {
    for (const s of states) Deno.removeSync(s, { recursive: true });
  }

  const base = variants[0]!;
  const d = (x: number, y: number, digits: number) =>
    `${x - y >= 0 ? "+" : ""}${(x - y).toFixed(digits)}`;
  const head = `${opts.bundle ? "bundled (deno bundle)" : "from source"}, ${opts.rounds} rounds` +
    ` + 1 warm-up, ${new Date().toISOString().slice(0, 10)}, Deno ${Deno.version.deno}`;
  const lines = [
    head,
    "",
    "| variant | start ms | Δ ms | idle RSS MB | Δ MB | anon MB | Δ anon | file MB |",
    "|---|---|---|---|---|---|---|---|",
    ...variants.map((v) => {
      const same = v === base;
      return `| ${v.name} | ${median(v.ms).toFixed(0)} | ${
        same ? "—" : d(median(v.ms), median(base.ms), 0)
      } | ${median(v.rss).toFixed(1)} | ${same ? "—" : d(median(v.rss), median(base.rss), 1)} | ${
        median(v.anon).toFixed(1)
      } | ${same ? "—" : d(median(v.anon), median(base.anon), 1)} | ${median(v.file).toFixed(1)} |`;
    }),
    "",
    `Command: \`${["deno run -A tests/bench/deps_bench.ts", ...Deno.args].join(" ")}\``,
  ];
  console.log(lines.join("\n"));
  for (const v of variants) {
    console.log(
      `  ${v.name}: ms ${v.ms.map((x) => x.toFixed(0)).join(" ")}; MB ${
        v.rss.map((x) => x.toFixed(1)).join(" ")
      }`,
    );
  }
  Deno.mkdirSync(`${root}/tests/bench/results`, { recursive: true });
  Deno.writeTextFileSync(
    `${root}/tests/bench/results/deps.md`,
    `# Dependencies: the agent's start and idle RSS with each library\n\n${lines.join("\n")}\n`,
  );
}
