import assert from "node:assert/strict";
import { Backoff, fullJitter } from "./backoff.ts";
import { FakeClock, systemClock } from "./clock.ts";

Deno.test("FakeClock wakes sleepers in time order only when advanced", async () => {
  const clock = new FakeClock(0);
  const woke: string[] = [];
  void clock.sleep(300).then(() => woke.push(`b@${clock.now()}`));
  void clock.sleep(100).then(() => woke.push(`a@${clock.now()}`));
  await clock.advance(99);
  assert.deepEqual(woke, []);
  await clock.advance(250);
  assert.deepEqual(woke, ["a@100", "b@300"]);
  assert.equal(clock.now(), 349);
});

Deno.test("sleep() rejects with the abort reason on both clocks", async () => {
  const clock = new FakeClock(0);
  const ac = new AbortController();
  const p = clock.sleep(1000, ac.signal);
  ac.abort(new Error("stop"));
  await assert.rejects(p, /stop/);
  assert.equal(clock.pending, 0);
  const ac2 = new AbortController();
  const q = systemClock.sleep(60_000, ac2.signal);
  ac2.abort(new Error("stop2"));
  await assert.rejects(q, /stop2/);
});

Deno.test("full jitter stays within [0, min(max, min * 2^n)]", () => {
  assert.equal(fullJitter(0, { min: 1000, max: 60_000, random: () => 0.999 }), 999);
  assert.equal(fullJitter(3, { min: 1000, max: 60_000, random: () => 0.5 }), 4000);
  assert.equal(fullJitter(20, { min: 1000, max: 60_000, random: () => 0.5 }), 30_000);
  const b = new Backoff({ min: 100, max: 1000, random: () => 1 - Number.EPSILON });
  assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [99, 199, 399, 799, 999]);
  b.reset();
  assert.equal(b.next(), 99);
});

Deno.test("full jitter spreads a fleet instead of synchronising it", () => {
  const delays = Array.from({ length: 1000 }, () => fullJitter(4, { min: 1000, max: 60_000 }));
  const buckets = new Array(8).fill(0);
  for (const d of delays) buckets[Math.floor(d / 2000)]++;
  // Uniform over [0, 16000): every 2-second bucket gets a share, none most of them.
  assert.ok(buckets.every((n) => n > 50 && n < 250), buckets.join());
});
