/**
 * `deno task bench [NAME…]`: run the benchmarks in `tests/bench/` one after
 * another (each `*_bench.ts`, or `web/run.ts`), each of which compares Tern
 * with the bare runtime in the same run and writes its table to
 * `tests/bench/results/<area>.md`; then assemble `tests/bench/RESULTS.md`.
 * `deno task bench --assemble` only reassembles RESULTS.md from the results.
 * Loads go to loopback only and are bounded in time.
 */

import { join } from "node:path";

const dir = new URL(".", import.meta.url).pathname;
const assembleOnly = Deno.args.includes("--assemble");
const wanted = Deno.args.filter((a) => a !== "--assemble");
const scripts = [...Deno.readDirSync(dir)]
  .filter((e) => e.isFile && e.name.endsWith("_bench.ts"))
  .map((e) => e.name)
  .concat(
    [...Deno.readDirSync(dir)].some((e) => e.isDirectory && e.name === "web") ? ["web/run.ts"] : [],
  )
  .filter((n) => wanted.length === 0 || wanted.some((w) => n.startsWith(w)))
  .sort();

let failed = 0;
for (const script of assembleOnly ? [] : scripts) {
  const path = join(dir, script);
  try {
    Deno.statSync(path);
  } catch {
    continue;
  }
  console.log(`\n== ${script}`);
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", path],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (r.code !== 0) {
    failed++;
    console.error(`${script} failed with exit ${r.code}`);
  }
}

const resultsDir = join(dir, "results");
const parts = [...Deno.readDirSync(resultsDir)]
  .filter((e) => e.isFile && e.name.endsWith(".md"))
  .map((e) => e.name)
  .sort()
  .map((n) => Deno.readTextFileSync(join(resultsDir, n)).trim().replace(/^# /gm, "## "));
Deno.writeTextFileSync(
  join(dir, "RESULTS.md"),
  `# Benchmark results\n\nEach benchmark compares Tern with the bare runtime in the same run, as a ratio.\n` +
    `Machine: 2 cores, loopback only. Regenerate with \`deno task bench\` (or \`deno task bench NAME\`);\n` +
    `each section names its own command.\n\n${parts.join("\n\n")}\n`,
);
console.log(`\nWrote tests/bench/RESULTS.md (${parts.length} sections)`);
Deno.exit(failed ? 1 : 0);
