/**
 * The web benchmark's Markdown: the throughput table (per case: bare and Tern
 * req/s and p99, the ratio against the issue's target, steady rounds, errors,
 * CPU per request), the memory tables and the start times.
 */

import type { Round } from "./rounds.ts";
import { median } from "./rounds.ts";
import type { Memory } from "./memory.ts";

/** One throughput case's result. */
export interface Row {
  name: string;
  /** The Tern path (the item key shown as KEY). */
  path: string;
  target: number | undefined;
  pick: Round;
  cpuRatio: number;
  steady: number;
  total: number;
  bareCpu: number;
  ternCpu: number;
  ternErrors: number;
  bareErrors: number;
}

const f0 = (n: number) => n.toFixed(0);
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const ok = (b: boolean) => (b ? "✅" : "❌");

/** What the rows measure, beyond the method. */
const NOTES = `Reading the rows: \`/api/health\`, the 404 and the dashboard file are served by
the start task's agent (the bundle of \`main.ts\`'s CLI, \`dist/agent/\`) with the default config; the dashboard (routes/site) is held in memory, and it has no
64 KB file. A device maker's own files can only be served from the documents directory
(\`web.static.documents\`, under \`/docs/\`), which is on disk. The write row commits one SQLite
transaction (the item and its change-log row) per request.`;

export function roundsReport(
  rows: Row[],
  o: { seconds: number; rounds: number; conns: number; pin: boolean },
): string {
  const lines = rows.map((r) => {
    const { b, t, ratio } = r.pick;
    const target = r.target === undefined ? "—" : `≥ ${r.target} ${ok(ratio >= r.target)}`;
    return `| ${r.name} | \`${r.path}\` | ${f0(b.rps)} | ${f2(b.p99)} | ${f0(t.rps)} | ${
      f2(t.p99)
    } | ${f2(ratio)} | ${target} | ${r.steady}/${r.total} | ${r.ternErrors} ${
      ok(r.ternErrors === 0)
    } | ${f1(r.bareCpu)} | ${f1(r.ternCpu)} | ${f2(r.cpuRatio)} |`;
  });
  return `### Throughput

wrk, 1 thread, ${o.conns} connections, runs of ${o.seconds} s; per case ${o.rounds} Tern runs, each
between two bare runs, the median of the steady rounds reported (all rounds when fewer than three
are steady); ${
    o.pin ? "servers pinned to the last core, wrk to the first" : "not pinned"
  }. Bare: \`Deno.serve\`, default flags, answering
the bytes the agent answered for the case from memory (with its JSON content type for the JSON
cases, none for the static files). Tern errors: non-2xx answers (but in the 404 case) and socket
errors over every Tern run.

| case | Tern path | bare req/s | bare p99 ms | Tern req/s | Tern p99 ms | Tern / bare | target | steady rounds | Tern errors | bare CPU µs/req | Tern CPU µs/req | CPU bare / Tern |
|---|---|---:|---:|---:|---:|---:|---|---:|---|---:|---:|---:|
${lines.join("\n")}

${NOTES}`;
}

export function memoryReport(
  main: Memory[],
  parts: Memory[],
  notes: string[],
  o: { waitMs: number; seconds: number },
): string {
  const local = main[0];
  const starts = Math.max(...main.map((m) => m.idles.length));
  const lines = main.map((m) => {
    const isCloud = m.label.startsWith("cloud");
    const limit = isCloud ? 80 : 50;
    const [a1, , a3] = [m.after[0]!, m.after[1], m.after.at(-1)!];
    const growth = a3 - a1;
    const heap = m.heap
      ? `${f1(m.heap.used)} / ${f1(m.heap.total)}, ext ${f1(m.heap.external)}`
      : "—";
    const each = m.idles.length > 1 ? `; ${m.idles.map(f1).join(", ")}` : "";
    return `| ${m.label} | ${f1(m.idle)} (≤ ${limit} ${ok(m.idle <= limit)}${each}) | ${
      f1(m.idleAnon)
    } / ${f1(m.idleFile)} | ${f1(m.peak)} | ${m.after.map(f1).join(" / ")} | ${
      growth >= 0 ? "+" : ""
    }${f1(growth)} ${ok(growth <= 0.05 * a1)} | ${heap} |`;
  });
  const device = main.find((m) => m.label.startsWith("local, device")) ?? local;
  const partLines = parts.map((m) =>
    `| ${m.label} | ${f1(m.idle)} | ${f1(m.idleAnon)} / ${f1(m.idleFile)} | ${
      device ? `${m.idle - device.idle >= 0 ? "+" : ""}${f1(m.idle - device.idle)}` : "—"
    } | ${m.heap ? `${f1(m.heap.used)} / ${f1(m.heap.total)}` : "—"} |`
  );
  return `### Memory (RSS, MB)

Each agent alone (page cache dropped first when run as root), idle after one request of each kind
it serves (the median of ${starts} starts, each start's reading after it: one start's file-backed pages,
the runtime's code it touched and their cached neighbours, vary by about ±0.5 MB with nothing
changed; the anon / file split is the median start's); then three load cycles (one ${o.seconds} s wrk run of each of its cases per cycle, RSS
sampled every 250 ms for the peak), each followed by ${o.waitMs / 1000} s quiet and a reading. No
growth: the reading after cycle 3 within 5 % of the one after cycle 1. Local mode's target is the
issue's ≤ 50 MB idle, cloud mode's ≤ 80 MB. Cloud mode: MQTT to a local mosquitto, sync both ways
with an in-process dynalite (the bench checks the item reached the table), static AWS credentials;
its load includes writes, which sync up; the agent's own log goes to CloudWatch Logs and its
metrics (every OS group, agent figures) as EMF records with it, to a local endpoint in the bench
process that accepts every call. Heap: V8 used / committed and external, MB, from the agent's \`/metrics\` after the
cycles.

| agent | idle | idle anon / file | peak under load | after cycle 1 / 2 / 3 | growth 1 → 3 | heap |
|---|---:|---:|---:|---|---|---|
${lines.join("\n")}

Where cloud mode's megabytes go: idle agents of the device config with \`agent.mode: "cloud"\`
and one part at a time (Δ against the local device agent above).

| agent | idle | anon / file | Δ idle | heap used / committed |
|---|---:|---:|---:|---|
${partLines.join("\n")}${notes.length ? `\n\n${notes.join("\n")}` : ""}`;
}

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return `${f0(median(s))} | ${f0(s[0]!)} | ${f0(s.at(-1)!)} | ${s.length}`;
}

export function startReport(x86: number[], arm: number[] | undefined, missing?: string): string {
  return `### Start time (ms, from exec to the "Agent started" log line)

The start task's command with the default config (local mode), a state directory from an earlier
start, not pinned; one start first that is not counted.

| platform | median | min | max | starts | target |
|---|---:|---:|---:|---:|---|
| x86_64 | ${stats(x86)} | ≤ 300 ${ok(median(x86) <= 300)} |
${
    arm
      ? `| aarch64, emulated (qemu-aarch64-static, arm64 Deno) | ${stats(arm)} | — (emulated) |`
      : `| aarch64 | not measured: ${missing} | | | | |`
  }`;
}
