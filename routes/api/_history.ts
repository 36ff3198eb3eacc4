/**
 * The dashboard's metric history: every `interval` ms (default 5 s) a few
 * figures are read from the agent's one metrics registry and kept for
 * `span` ms (default one hour, 720 samples), so the Metrics page can draw
 * the last hour at once and then grow live (`/api/events?topics=metrics`).
 *
 * A sample is `[t, cpu, memory, rss, disk, temperature, requests, queue, spool]`
 * (t: ms since epoch); a figure the registry does not have is `null` (the OS
 * figures exist while the `cloud.metrics` service collects them):
 *
 * - cpu: `tern_os_cpu_utilization_percent{cpu="all"}` (%)
 * - memory: `tern_os_memory_used_percent` (%)
 * - rss: `tern_process_resident_memory_bytes` (bytes)
 * - disk: `tern_os_disk_used_percent` of "/" (or the fullest mount) (%)
 * - temperature: the hottest `tern_os_temperature_celsius` zone (°C)
 * - requests: growth of `tern_http_requests_total` per second since the last sample
 * - queue: `tern_mqtt_queue_messages` (messages)
 * - spool: `tern_spool_backlog_records`, every stream (records)
 */

import type { Clock } from "../../lib/clock.ts";
import type { MetricFamily, MetricsRegistry, Series } from "../../lib/metrics/mod.ts";

export const HISTORY_KEYS = [
  "cpu",
  "memory",
  "rss",
  "disk",
  "temperature",
  "requests",
  "queue",
  "spool",
] as const;

export type HistorySample = [number, ...(number | null)[]];

/** Options of {@linkcode MetricsHistory}. */
export interface MetricsHistoryOptions {
  /** ms between samples. @default 5000 */
  interval?: number;
  /** ms of history kept. @default 3_600_000 */
  span?: number;
}

export class MetricsHistory {
  readonly interval: number;
  readonly #max: number;
  readonly #samples: HistorySample[] = [];
  readonly #listeners = new Set<(s: HistorySample) => void>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastRequests: { t: number; total: number } | undefined;

  constructor(
    readonly registry: MetricsRegistry,
    readonly clock: Clock,
    options: MetricsHistoryOptions = {},
  ) {
    this.interval = Math.max(100, options.interval ?? 5000);
    this.#max = Math.max(1, Math.ceil((options.span ?? 3_600_000) / this.interval));
  }

  /** Sample every `interval` until `stop()` or the signal aborts (the first sample at once). */
  start(signal?: AbortSignal): void {
    if (this.#timer !== undefined) return;
    this.sample();
    this.#timer = setInterval(() => this.sample(), this.interval);
    signal?.addEventListener("abort", () => this.stop(), { once: true });
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Called with each new sample; returns the function that unsubscribes. */
  subscribe(fn: (s: HistorySample) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** `{ interval, keys, samples }`, oldest first. */
  snapshot(): { interval: number; keys: readonly string[]; samples: HistorySample[] } {
    return { interval: this.interval, keys: HISTORY_KEYS, samples: [...this.#samples] };
  }

  /** Take one sample now (the timer calls it; tests may too). */
  sample(): HistorySample {
    const t = this.clock.now();
    const fams = new Map<string, MetricFamily>();
    for (const f of this.registry.collect()) if (!fams.has(f.name)) fams.set(f.name, f);
    const scalar = (name: string): readonly Series[] | undefined => {
      const f = fams.get(name);
      return f && f.type !== "histogram" ? f.series : undefined;
    };
    const sum = (name: string) => {
      const s = scalar(name);
      return s && s.length ? s.reduce((a, x) => a + x.value, 0) : null;
    };
    const max = (name: string) => {
      const s = scalar(name);
      return s && s.length ? Math.max(...s.map((x) => x.value)) : null;
    };
    const cpu = scalar("tern_os_cpu_utilization_percent")?.find((s) => s.labels?.cpu === "all");
    const disks = scalar("tern_os_disk_used_percent");
    const root = disks?.find((s) => s.labels?.mount === "/");
    const total = sum("tern_http_requests_total");
    let requests: number | null = null;
    if (total !== null) {
      const last = this.#lastRequests;
      if (last && t > last.t) requests = Math.max(0, (total - last.total) / ((t - last.t) / 1000));
      this.#lastRequests = { t, total };
    }
    const round = (v: number | null, digits = 2) =>
      v === null || !Number.isFinite(v) ? null : Number(v.toFixed(digits));
    const s: HistorySample = [
      t,
      round(cpu?.value ?? null),
      round(sum("tern_os_memory_used_percent")),
      sum("tern_process_resident_memory_bytes"),
      round(root?.value ?? max("tern_os_disk_used_percent")),
      round(max("tern_os_temperature_celsius")),
      round(requests),
      sum("tern_mqtt_queue_messages"),
      sum("tern_spool_backlog_records"),
    ];
    this.#samples.push(s);
    if (this.#samples.length > this.#max) this.#samples.splice(0, this.#samples.length - this.#max);
    for (const fn of this.#listeners) fn(s);
    return s;
  }
}
