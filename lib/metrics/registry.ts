/**
 * The one metrics registry of the agent: what `/metrics` renders as
 * Prometheus text and what the CloudWatch metrics service samples, so local
 * and cloud metrics are one set.
 *
 * Subsystems register a {@linkcode Collector}: a function returning their
 * series as {@linkcode MetricFamily} values when asked (the web server's
 * request counts, the MQTT queue, the spool, the OS). Nothing is copied per
 * update; a collector reads its own figures when the registry is collected
 * (a `/metrics` scrape, a CloudWatch sample every `cloud.metrics.interval`).
 *
 * A family with a `cloud` part also goes to CloudWatch, under `cloud.name`
 * with `cloud.unit`, its labels turned into dimensions by `cloud.dimensions`
 * (default: none, the series are summed). Gauges are sampled; counters send
 * what they grew by since the last sample; histograms send their buckets'
 * growth as a value/count array (the bucket bound as the value).
 *
 * ```ts
 * const registry = new MetricsRegistry();
 * const off = registry.register(() => [{ name: "tern_x", help: "X", type: "gauge", series: [{ value: 1 }] }]);
 * registry.render(); // "# HELP tern_x X\n# TYPE tern_x gauge\ntern_x 1\n"
 * ```
 */

import { renderPrometheus } from "./prometheus.ts";

/** CloudWatch's units (`StandardUnit`). */
export const UNITS = [
  "Seconds",
  "Microseconds",
  "Milliseconds",
  "Bytes",
  "Kilobytes",
  "Megabytes",
  "Gigabytes",
  "Terabytes",
  "Bits",
  "Kilobits",
  "Megabits",
  "Gigabits",
  "Terabits",
  "Percent",
  "Count",
  "Bytes/Second",
  "Kilobytes/Second",
  "Megabytes/Second",
  "Gigabytes/Second",
  "Terabytes/Second",
  "Bits/Second",
  "Kilobits/Second",
  "Megabits/Second",
  "Gigabits/Second",
  "Terabits/Second",
  "Count/Second",
  "None",
] as const;

export type Unit = typeof UNITS[number];

export type Labels = Record<string, string>;

/** One series of a counter or gauge. */
export interface Series {
  labels?: Labels;
  value: number;
}

/** One series of a histogram: per-bucket (not cumulative) counts, the last one above every bound. */
export interface HistogramSeries {
  labels?: Labels;
  /** Upper bounds, ascending (the +Inf bucket is implied). */
  bounds: readonly number[];
  /** `bounds.length + 1` counts. */
  counts: readonly number[];
  sum: number;
  count: number;
}

/** How a family goes to CloudWatch. */
export interface CloudSpec {
  /** Metric name in CloudWatch (1–255 characters). */
  name: string;
  unit: Unit;
  /** Dimensions of a series from its labels; series with equal dimensions are summed. @default none */
  dimensions?: (labels: Labels) => Record<string, string>;
  /** Only the series this accepts go to CloudWatch. @default all */
  include?: (labels: Labels) => boolean;
  /** Scale applied to values before sending (e.g. 1000 for seconds → ms). @default 1 */
  scale?: number;
}

interface _FamilyBase {
  name: string;
  help: string;
  cloud?: CloudSpec;
}

/** A counter or gauge family. */
export interface ScalarFamily extends _FamilyBase {
  type: "counter" | "gauge";
  series: readonly Series[];
}

/** A histogram family. */
export interface HistogramFamily extends _FamilyBase {
  type: "histogram";
  series: readonly HistogramSeries[];
}

export type MetricFamily = ScalarFamily | HistogramFamily;

/** Returns a subsystem's families when the registry is collected. */
export type Collector = () => readonly MetricFamily[];

/** The agent's metrics registry. */
export class MetricsRegistry {
  readonly #collectors = new Set<Collector>();
  /** Collectors that threw, by the error's message (shown once per message in `errors`). */
  readonly errors = new Map<string, number>();

  /** Add a collector; returns the function that removes it. */
  register(collector: Collector): () => void {
    this.#collectors.add(collector);
    return () => this.#collectors.delete(collector);
  }

  /** Every registered collector's families; a collector that throws is left out (and counted). */
  collect(): MetricFamily[] {
    const out: MetricFamily[] = [];
    for (const c of this.#collectors) {
      try {
        for (const f of c()) out.push(f);
      } catch (e) {
        const k = e instanceof Error ? e.message : String(e);
        this.errors.set(k, (this.errors.get(k) ?? 0) + 1);
      }
    }
    return out;
  }

  /** The Prometheus text exposition of everything. */
  render(): string {
    return renderPrometheus(this.collect());
  }
}
