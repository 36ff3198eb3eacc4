import * as assert from "node:assert/strict";
import { rounds, type Run, summary } from "./rounds.ts";

const run = (rps: number, cpu = 1e6 / rps): Run => ({ rps, p99: 1, errors: 0, cpu });

Deno.test("a round is steady only when both of its bare runs agree in req/s and CPU", () => {
  const b = [run(100_000), run(95_000), run(60_000), run(60_000, 20), run(60_000)];
  const t = [run(70_000), run(50_000), run(40_000), run(40_000)];
  const r = rounds(b, t);
  assert.deepEqual(r.map((x) => x.steady), [true, false, false, false]);
  // Against the geometric mean of the two sides.
  assert.ok(Math.abs(r[0]!.ratio - 70_000 / Math.sqrt(100_000 * 95_000)) < 1e-12);
  assert.ok(Math.abs(r[0]!.cpuRatio - Math.sqrt(10 * (1e6 / 95_000)) / (1e6 / 70_000)) < 1e-12);
});

Deno.test("the reported round is the median of the steady ones, or of all when fewer than three", () => {
  // Rounds 1-3 steady at ratios 0.5, 0.7, 0.6; round 4 not steady (its ratio 1.0 is ignored).
  const b = [run(100_000), run(100_000), run(100_000), run(100_000), run(50_000)];
  const t = [run(50_000), run(70_000), run(60_000), run(70_000)];
  const s = summary(b, t);
  assert.equal(s.steady, 3);
  assert.equal(s.total, 4);
  assert.equal(s.pick.t.rps, 60_000);
  assert.equal(s.used.length, 3);
  // Two steady rounds only: every round counts (ratios 0.5, 0.7 and 60k ÷ 70.7k = 0.85).
  const few = summary(b.slice(0, 3).concat([run(50_000)]), t.slice(0, 3));
  assert.equal(few.steady, 2);
  assert.equal(few.used.length, 3);
  assert.equal(few.pick.t.rps, 70_000);
});

Deno.test("rounds() refuses sequences that are not B T B … B", () => {
  assert.throws(() => rounds([run(1), run(1)], [run(1), run(1)]), RangeError);
});
