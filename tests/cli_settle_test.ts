/**
 * `settleHeap()` (called by `tern run` after the start and after a reload):
 * with `--v8-flags=--expose-gc` (RUNTIME_FLAGS, baked into binaries) it frees
 * start-only garbage and gives the pages back, so V8's heap shrinks; without
 * the flag it does nothing. Each case runs in its own process, since V8 flags
 * are per process.
 */

import assert from "node:assert/strict";
import { RUNTIME_FLAGS } from "../deploy/compile.ts";

const root = new URL("..", import.meta.url).pathname;
const settleTs = new URL("../lib/cli/_settle.ts", import.meta.url).href;

// Grow the heap with ~30 MB of short-lived objects (like a start: config
// schemas, parsed files), keep a little, then settle.
const SCRIPT = `
import { settleHeap } from ${JSON.stringify(settleTs)};
let keep = [];
for (let i = 0; i < 300; i++) {
  const batch = Array.from({ length: 1000 }, (_, j) => ({ i, j, s: "x".repeat(64) + j }));
  if (i % 100 === 0) keep.push(batch[0]);
}
const before = Deno.memoryUsage().heapTotal;
const settled = settleHeap();
const after = Deno.memoryUsage().heapTotal;
console.log(JSON.stringify({ settled, before, after, kept: keep.length }));
`;

async function run(flags: readonly string[]) {
  const dir = await Deno.makeTempDir({ prefix: "tern-settle-" });
  const script = `${dir}/settle.ts`;
  await Deno.writeTextFile(script, SCRIPT);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "-A", "--config", `${root}deno.json`, ...flags, script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(dir, { recursive: true });
  const err = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, err);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!) as {
    settled: boolean;
    before: number;
    after: number;
  };
}

Deno.test("settleHeap shrinks the V8 heap when the runtime flags expose gc", async () => {
  const r = await run(RUNTIME_FLAGS);
  assert.equal(r.settled, true);
  assert.ok(r.after < r.before * 0.8, `heap ${r.before} → ${r.after}: not released`);
});

Deno.test("settleHeap does nothing without --expose-gc", async () => {
  const r = await run([]);
  assert.equal(r.settled, false);
});
