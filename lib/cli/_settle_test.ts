import assert from "node:assert/strict";
import { FakeClock } from "../clock.ts";
import { type HeapUsage, settleWhenIdle } from "./_settle.ts";

const MB = 1024 * 1024;

/** A heap whose figures the test sets; `settle()` shrinks it back to `floor`. */
function fakeHeap(floor: number) {
  const heap: HeapUsage = { heapUsed: floor - MB, heapTotal: floor };
  const settles: number[] = [];
  return {
    heap,
    settles,
    usage: () => ({ ...heap }),
    settle: () => {
      settles.push(heap.heapTotal);
      heap.heapTotal = floor;
      heap.heapUsed = floor - MB;
      return true;
    },
  };
}

Deno.test("settleWhenIdle settles once the heap grew and the process went quiet", async () => {
  const clock = new FakeClock();
  const h = fakeHeap(12 * MB);
  const stop = new AbortController();
  const loop = settleWhenIdle({
    clock,
    usage: h.usage,
    settle: h.settle,
    signal: stop.signal,
    interval: 1000,
  });
  await clock.waitForSleepers();

  // A burst of requests: the heap grows and allocation churns between looks.
  for (let i = 0; i < 5; i++) {
    h.heap.heapTotal = 28 * MB;
    h.heap.heapUsed = (i % 2 ? 20 : 14) * MB;
    await clock.advance(1000);
  }
  assert.deepEqual(h.settles, [], "no settle while busy");

  // The burst is over: the heap stays grown, nothing is allocated.
  await clock.advance(1000);
  await clock.advance(1000);
  assert.deepEqual(h.settles, [28 * MB]);

  // Idle at the settled size: nothing more to do.
  await clock.advance(10_000);
  assert.equal(h.settles.length, 1);

  // Quiet growth below the threshold (512 KiB) is left alone.
  h.heap.heapTotal = 12 * MB + 256 * 1024;
  await clock.advance(5000);
  assert.equal(h.settles.length, 1);
  // Past it (the handful of requests after a start): settled.
  h.heap.heapTotal = 12 * MB + 768 * 1024;
  await clock.advance(1000);
  assert.deepEqual(h.settles, [28 * MB, 12 * MB + 768 * 1024]);

  stop.abort();
  await loop;
  assert.equal(clock.pending, 0);
});

Deno.test("settleWhenIdle also settles after the RSS grew, once, not in a loop", async () => {
  const clock = new FakeClock();
  const heap: HeapUsage = { heapUsed: 11 * MB, heapTotal: 12 * MB, rss: 70 * MB };
  let settles = 0;
  const stop = new AbortController();
  const loop = settleWhenIdle({
    clock,
    usage: () => ({ ...heap }),
    settle: () => {
      settles++;
      heap.rss = 80 * MB; // the GC returned its pages; malloc kept 10 MB
      return true;
    },
    signal: stop.signal,
    interval: 1000,
  });
  await clock.waitForSleepers();
  heap.rss = 140 * MB; // a burst grew the process, not the measured heap
  await clock.advance(1000);
  assert.equal(settles, 1);
  await clock.advance(10_000);
  assert.equal(settles, 1, "what the GC cannot return does not trigger more settles");
  stop.abort();
  await loop;
});

Deno.test("settleWhenIdle returns at once when gc is not exposed", async () => {
  // The test runner has no --expose-gc: with the default settle the loop never starts.
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, "undefined");
  const clock = new FakeClock();
  await settleWhenIdle({ clock });
  assert.equal(clock.pending, 0);
});
