/**
 * Keeping the agent's resident memory at its idle size. V8 keeps the pages
 * its heap grew into: what only the start needed (config schemas and files,
 * module loading) and the young generation a burst of requests grew stay
 * resident, because an idle process never collects. `settleHeap()` runs one
 * memory-reducing full GC that returns them to the OS (about 10 MB of an
 * 80 MB agent after the start); `settleWhenIdle()` runs it again once the
 * heap grew and the process went quiet after a burst of work.
 *
 * Both need `--v8-flags=--expose-gc` (compiled binaries and the start task
 * pass it: `RUNTIME_FLAGS` in deploy/compile.ts); without it they do nothing.
 *
 * ```ts
 * settleHeap(); // right after Agent.start()
 * settleWhenIdle({ signal }); // until signal aborts
 * ```
 */

import { type Clock, systemClock } from "../clock.ts";

/**
 * One memory-reducing full GC (V8's "last resort" collection). Returns false
 * when `gc` is not exposed. Synchronous, tens of ms: never call it per request.
 */
export function settleHeap(): boolean {
  const gc = (globalThis as { gc?: (options?: unknown) => void }).gc;
  if (typeof gc !== "function") return false;
  gc({ type: "major", execution: "sync", flavor: "last-resort" });
  return true;
}

/** Heap figures the idle check reads (a subset of `Deno.memoryUsage()`), bytes. */
export interface HeapUsage {
  heapUsed: number;
  heapTotal: number;
  /** Resident set size; growth here also counts (V8 pages a burst committed). */
  rss?: number;
}

/** Options of {@linkcode settleWhenIdle}. */
export interface SettleOptions {
  /** Time between two looks at the heap, ms. @default 5_000 */
  interval?: number;
  /**
   * Heap growth over its size after the last settle that is worth a settle, bytes (twice this
   * for the RSS). @default 512 KiB: the few requests after a start grow the heap by about 1 MB,
   * and settling them took 0.4 MB off the device agent's idle (a settle is tens of ms, once per
   * quiet spell that followed such growth).
   */
  growth?: number;
  /** Allocated between two looks below which the process counts as idle, bytes. @default 256 KiB */
  quiet?: number;
  /** Stops the loop. */
  signal?: AbortSignal;
  /** @default systemClock */
  clock?: Clock;
  /** Reads the heap. @default Deno.memoryUsage */
  usage?: () => HeapUsage;
  /** Runs the collection. @default settleHeap */
  settle?: () => boolean;
}

/**
 * Every `interval`, settle the heap when it (or the RSS, by twice `growth`)
 * grew by `growth` since the last settle and the process allocated less than `quiet` since the previous look
 * (idle: under load it allocates megabytes a second, and a full GC then would
 * only pause requests). Resolves when `signal` aborts; at once without `gc`.
 */
export async function settleWhenIdle(options: SettleOptions = {}): Promise<void> {
  const {
    interval = 5_000,
    growth = 512 * 1024,
    quiet = 256 * 1024,
    signal,
    clock = systemClock,
    usage = () => Deno.memoryUsage(),
    settle = settleHeap,
  } = options;
  if (!options.settle && typeof (globalThis as { gc?: unknown }).gc !== "function") return;
  const first = usage();
  let base = first.heapTotal;
  let baseRss = first.rss ?? 0;
  let last = first.heapUsed;
  while (!signal?.aborted) {
    try {
      await clock.sleep(interval, signal);
    } catch {
      return; // aborted
    }
    const now = usage();
    const idle = Math.abs(now.heapUsed - last) < quiet;
    last = now.heapUsed;
    const grew = now.heapTotal > base + growth ||
      (now.rss !== undefined && now.rss > baseRss + 2 * growth);
    if (idle && grew) {
      if (!settle()) return;
      const after = usage();
      base = after.heapTotal;
      // What a GC cannot return (malloc'd runtime memory) raises the bar: no settle loop.
      baseRss = after.rss ?? 0;
      last = after.heapUsed;
    }
  }
}
