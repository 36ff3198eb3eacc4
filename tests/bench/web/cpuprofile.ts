/**
 * Summaries of a V8 CPU profile (the `.cpuprofile` JSON that `deno run
 * --cpu-prof` writes): self time by function, and inclusive time by function
 * (each sample counted once per function on its stack). Times in ms; a
 * function is `name url:line` with the URL shortened to the repository path.
 *
 * `deno run --allow-read tests/bench/web/cpuprofile.ts FILE.cpuprofile [N]`
 * prints the top N (default 25) of both.
 */

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** The profile file's shape (the parts read here). */
export interface CpuProfile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

/** One function's share. */
export interface Entry {
  fn: string;
  ms: number;
  /** Of every sample's time, idle and GC included. */
  pct: number;
}

const ROOT = new URL("../../../", import.meta.url).href;

function label(n: Node): string {
  const { functionName, url, lineNumber } = n.callFrame;
  const name = functionName || "(anonymous)";
  if (!url) return name;
  const short = url.startsWith(ROOT)
    ? url.slice(ROOT.length)
    : url.replace(/^.*\/(ext|node_modules|npm)\//, "$1/");
  return `${name} ${short}:${lineNumber + 1}`;
}

/** Self and inclusive time by function, largest first, and the busy time (no idle). */
export function summarize(p: CpuProfile): {
  self: Entry[];
  inclusive: Entry[];
  totalMs: number;
  busyMs: number;
} {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = (p.timeDeltas[i + 1] ?? p.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(p.samples[i]!)!;
    const key = label(node);
    total += dt;
    if (key === "(idle)") idle += dt;
    self.set(key, (self.get(key) ?? 0) + dt);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const k = label(byId.get(id)!);
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + dt);
    }
  }
  const list = (m: Map<string, number>) =>
    [...m].map(([fn, ms]) => ({ fn, ms, pct: (100 * ms) / total })).sort((a, b) => b.ms - a.ms);
  return { self: list(self), inclusive: list(incl), totalMs: total, busyMs: total - idle };
}

/** A Markdown table of entries. */
export function table(entries: Entry[], busyMs: number): string {
  return [
    "| function | ms | % of busy |",
    "|---|---:|---:|",
    ...entries.map((e) =>
      `| \`${e.fn.replaceAll("|", "\\|")}\` | ${e.ms.toFixed(0)} | ${
        ((100 * e.ms) / busyMs).toFixed(1)
      } |`
    ),
  ].join("\n");
}

if (import.meta.main) {
  const [file, n = "25"] = Deno.args;
  const s = summarize(JSON.parse(Deno.readTextFileSync(file!)));
  const skip = new Set(["(root)", "(program)", "(idle)"]);
  console.log(`busy ${s.busyMs.toFixed(0)} ms of ${s.totalMs.toFixed(0)} ms\n\nself:`);
  console.log(table(s.self.slice(0, Number(n)), s.busyMs));
  console.log("\ninclusive:");
  console.log(table(s.inclusive.filter((e) => !skip.has(e.fn)).slice(0, Number(n)), s.busyMs));
}
