/**
 * The agent process's own series: memory (`Deno.memoryUsage()`) and, once an
 * {@linkcode EventLoopLag} runs, how late the event loop answers a timer.
 *
 * - `tern_process_resident_memory_bytes`, `tern_process_heap_used_bytes`,
 *   `tern_process_heap_total_bytes`, `tern_process_external_bytes` gauges
 *   (CloudWatch: `AgentMemoryRss`, Bytes)
 * - `tern_process_event_loop_lag_seconds` gauge, the largest lag since the
 *   last collection (CloudWatch: `AgentEventLoopLag`, Milliseconds)
 *
 * Units: bytes, seconds (Prometheus); the lag timer ticks every `intervalMs`
 * (default 500 ms).
 */

import type { MetricFamily } from "./registry.ts";

/** The memory families. */
export function processFamilies(): MetricFamily[] {
  const mem = Deno.memoryUsage();
  const g = (name: string, help: string, value: number, cloud?: MetricFamily["cloud"]) => ({
    name,
    help,
    type: "gauge" as const,
    series: [{ value }],
    ...(cloud ? { cloud } : {}),
  });
  return [
    g("tern_process_resident_memory_bytes", "Resident set size.", mem.rss, {
      name: "AgentMemoryRss",
      unit: "Bytes",
    }),
    g("tern_process_heap_used_bytes", "V8 heap in use.", mem.heapUsed),
    g("tern_process_heap_total_bytes", "V8 heap committed.", mem.heapTotal),
    g(
      "tern_process_external_bytes",
      "Memory of JS objects outside the V8 heap (buffers).",
      mem.external,
    ),
  ];
}

/** Measures event-loop lag with one unref'd timer; `collect()` gives the worst lag since the last call. */
export class EventLoopLag implements Disposable {
  readonly #interval: number;
  readonly #timer: ReturnType<typeof setInterval>;
  #expected = 0;
  #worst = 0;
  #last = 0;

  constructor(intervalMs = 500) {
    this.#interval = intervalMs;
    this.#expected = performance.now() + intervalMs;
    const timer = setInterval(() => {
      const now = performance.now();
      const lag = Math.max(0, now - this.#expected);
      if (lag > this.#worst) this.#worst = lag;
      this.#expected = now + this.#interval;
    }, intervalMs);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** The worst lag in ms since the previous call (the previous value when no tick came in between). */
  take(): number {
    const w = this.#worst;
    this.#worst = 0;
    if (w > 0) this.#last = w;
    return w > 0 ? w : this.#last;
  }

  families(): MetricFamily[] {
    return [{
      name: "tern_process_event_loop_lag_seconds",
      help: "Largest event-loop lag since the last collection.",
      type: "gauge",
      cloud: { name: "AgentEventLoopLag", unit: "Milliseconds", scale: 1000 },
      series: [{ value: this.take() / 1000 }],
    }];
  }

  [Symbol.dispose](): void {
    clearInterval(this.#timer);
  }
}
