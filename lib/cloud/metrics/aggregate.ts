/**
 * Aggregation on the device: samples become one statistic set (SampleCount,
 * Sum, Minimum, Maximum) per metric, dimension set and period, so what goes to
 * CloudWatch does not grow with the sampling rate. Histograms become
 * value/count arrays. A metric named in `highResolution` is kept per
 * `highResolutionPeriod` with storage resolution 1 s; the rest per `period`.
 *
 * Sources: `add()` (the application API) and `sample(families)` (the
 * registry, every `interval`): gauges are sampled as they are, counters give
 * what they grew by since the previous sample, histograms the growth of each
 * bucket. The first sample is the baseline of the series it sees; a series
 * that appears later (a route's first request) counts from zero. Series of one family
 * whose dimensions are equal are summed within one sample.
 *
 * `due(now)` closes every period that has ended and returns its datums;
 * `drain()` closes all (on stop). A sample for a period already closed opens
 * it again and is sent as a second datum with the same timestamp, which
 * CloudWatch merges. Units: ms.
 */

import type { Labels, MetricFamily, Unit } from "../../metrics/mod.ts";
import { type Datum, MAX_EMF_VALUES } from "./limits.ts";

/** Options of {@linkcode Aggregator}. */
export interface AggregatorOptions {
  /** @default 60000 */
  period?: number;
  /** @default 1000 */
  highResolutionPeriod?: number;
  /** Metric names stored at 1 s resolution. @default none */
  highResolution?: Iterable<string>;
  /** Dimensions every metric carries first (e.g. [["Device", "pump-42"]]). @default none */
  base?: [string, string][];
}

/** One open aggregate (callers may keep it as a handle for `add`). */
export interface AggHandle {
  datum: Datum;
  end: number;
  /** Set when its period was closed: the handle no longer takes samples. */
  closed?: boolean;
  /** Histograms: value → count. */
  hist?: Map<number, number>;
}

export class Aggregator {
  readonly period: number;
  readonly highResolutionPeriod: number;
  readonly #hi: Set<string>;
  readonly #base: [string, string][];
  readonly #open = new Map<string, AggHandle>();
  /** Previous value of each counter series and histogram bucket, for deltas. */
  readonly #prev = new Map<string, number | readonly number[]>();
  #sampled = false;

  constructor(options: AggregatorOptions = {}) {
    this.period = options.period ?? 60_000;
    this.highResolutionPeriod = options.highResolutionPeriod ?? 1000;
    this.#hi = new Set(options.highResolution ?? []);
    this.#base = options.base ?? [];
  }

  /** Aggregates open now. */
  get size(): number {
    return this.#open.size;
  }

  /** Period start for `name` at `time`. */
  #start(name: string, time: number): [number, 1 | 60, number] {
    const hi = this.#hi.has(name);
    const p = hi ? this.highResolutionPeriod : this.period;
    const t = Math.floor(time / p) * p;
    return [t, hi ? 1 : 60, t + p];
  }

  /**
   * Add one sample. `dims` are sorted pairs without the base dimensions;
   * `key` a precomputed key of (name, dims) when the caller has one.
   */
  add(
    name: string,
    unit: Unit,
    dims: [string, string][],
    value: number,
    time: number,
    kind?: "counter",
    key?: string,
    handle?: AggHandle,
  ): AggHandle {
    if (
      handle !== undefined && handle.closed !== true && time >= handle.datum.t && time < handle.end
    ) {
      _update(handle.datum, value);
      return handle;
    }
    const [t, r, end] = this.#start(name, time);
    const k = `${t}|${key ?? name + "\u0000" + JSON.stringify(dims)}`;
    const a = this.#open.get(k);
    if (a !== undefined) {
      _update(a.datum, value);
      return a;
    }
    const datum: Datum = {
      n: name,
      u: unit,
      d: dims.length ? [...this.#base, ...dims] : this.#base,
      t,
      r,
      c: 1,
      s: value,
      mn: value,
      mx: value,
      x: [value],
    };
    if (kind) datum.kind = kind;
    const h: AggHandle = { datum, end };
    this.#open.set(k, h);
    return h;
  }

  /** Add histogram growth: `values[i]` seen `counts[i]` times, with their exact sum. */
  addHistogram(
    name: string,
    unit: Unit,
    dims: [string, string][],
    values: readonly number[],
    counts: readonly number[],
    sum: number,
    time: number,
  ): void {
    const [t, r, end] = this.#start(name, time);
    const k = `${t}|h|${name}\u0000${JSON.stringify(dims)}`;
    let a = this.#open.get(k);
    if (!a) {
      a = {
        datum: {
          n: name,
          u: unit,
          d: [...this.#base, ...dims],
          t,
          r,
          c: 0,
          s: 0,
          mn: Infinity,
          mx: -Infinity,
        },
        end,
        hist: new Map(),
      };
      this.#open.set(k, a);
    }
    const d = a.datum;
    for (let i = 0; i < values.length; i++) {
      const n = counts[i]!;
      if (n <= 0) continue;
      const v = values[i]!;
      a.hist!.set(v, (a.hist!.get(v) ?? 0) + n);
      d.c += n;
      if (v < d.mn) d.mn = v;
      if (v > d.mx) d.mx = v;
    }
    d.s += sum;
  }

  /** Sample the registry's families that have a `cloud` part, at `time`. */
  sample(families: readonly MetricFamily[], time: number): void {
    const first = !this.#sampled;
    this.#sampled = true;
    for (const f of families) {
      const c = f.cloud;
      if (!c) continue;
      const scale = c.scale ?? 1;
      const dimsOf = (labels: Labels | undefined): [string, string][] =>
        Object.entries(c.dimensions ? c.dimensions(labels ?? {}) : {}).sort((a, b) =>
          a[0] < b[0] ? -1 : 1
        );
      if (f.type === "histogram") {
        const merged = new Map<
          string,
          { dims: [string, string][]; counts: number[]; sum: number; bounds: readonly number[] }
        >();
        for (const h of f.series) {
          if (c.include && !c.include(h.labels ?? {})) continue;
          const id = `${f.name}${JSON.stringify(h.labels ?? {})}`;
          const now = [...h.counts, h.sum];
          let prev = this.#prev.get(id) as readonly number[] | undefined;
          this.#prev.set(id, now);
          if (prev === undefined && first) continue; // the baseline
          if (!prev || prev.length !== now.length) prev = now.map(() => 0);
          const dims = dimsOf(h.labels);
          const dk = JSON.stringify(dims);
          let m = merged.get(dk);
          if (!m) {
            m = { dims, counts: new Array(h.counts.length).fill(0), sum: 0, bounds: h.bounds };
            merged.set(dk, m);
          }
          let reset = false;
          for (let i = 0; i < h.counts.length; i++) if (now[i]! < prev[i]!) reset = true;
          for (let i = 0; i < h.counts.length; i++) {
            m.counts[i]! += reset ? now[i]! : now[i]! - prev[i]!;
          }
          m.sum += reset ? h.sum : h.sum - prev.at(-1)!;
        }
        for (const m of merged.values()) {
          if (!m.counts.some((n) => n > 0)) continue;
          // The bucket's upper bound stands for its values; above the last bound, the last bound.
          const values = m.counts.map((_, i) => (m.bounds[i] ?? m.bounds.at(-1)!) * scale);
          this.addHistogram(c.name, c.unit, m.dims, values, m.counts, m.sum * scale, time);
        }
        continue;
      }
      const merged = new Map<string, { dims: [string, string][]; value: number }>();
      for (const s of f.series) {
        if (c.include && !c.include(s.labels ?? {})) continue;
        let v = s.value;
        if (f.type === "counter") {
          const id = `${f.name}${JSON.stringify(s.labels ?? {})}`;
          const prev = this.#prev.get(id) as number | undefined ?? (first ? undefined : 0);
          this.#prev.set(id, v);
          if (prev === undefined) continue; // the baseline
          v = v >= prev ? v - prev : v; // a reset counts from zero
        }
        if (!Number.isFinite(v)) continue;
        const dims = dimsOf(s.labels);
        const dk = JSON.stringify(dims);
        const m = merged.get(dk);
        if (m) m.value += v * scale;
        else merged.set(dk, { dims, value: v * scale });
      }
      for (const m of merged.values()) {
        this.add(
          c.name,
          c.unit,
          m.dims,
          m.value,
          time,
          f.type === "counter" ? "counter" : undefined,
        );
      }
    }
  }

  /** Close every period that ended by `now`; their datums, oldest first. */
  due(now: number): Datum[] {
    const out: Datum[] = [];
    for (const [k, a] of this.#open) {
      if (a.end > now) continue;
      this.#open.delete(k);
      a.closed = true;
      out.push(this.#finish(a));
    }
    return out.sort((a, b) => a.t - b.t);
  }

  /** Close everything (stop, tests). */
  drain(): Datum[] {
    return this.due(Infinity);
  }

  #finish(a: AggHandle): Datum {
    const d = a.datum;
    if (a.hist) {
      const entries = [...a.hist].sort((x, y) => x[0] - y[0]);
      d.v = entries.map((e) => e[0]);
      d.k = entries.map((e) => e[1]);
    }
    if (d.d === this.#base) d.d = [...this.#base];
    return d;
  }

  /** Store `name` at 1 s resolution from now on (the application's `highResolution`). */
  markHighResolution(name: string): void {
    this.#hi.add(name);
  }

  /** Whether `name` is kept at 1 s resolution. */
  isHighResolution(name: string): boolean {
    return this.#hi.has(name);
  }

  /** Dimensions every metric carries first. */
  get base(): readonly [string, string][] {
    return this.#base;
  }

  /** The key of a (name, dims) pair, for callers that cache it (`add(…, key)`). */
  static key(name: string, dims: [string, string][]): string {
    return name + "\u0000" + JSON.stringify(dims);
  }
}

function _update(d: Datum, value: number): void {
  d.c++;
  d.s += value;
  if (value < d.mn) d.mn = value;
  if (value > d.mx) d.mx = value;
  if (d.x !== undefined) {
    if (d.x.length < MAX_EMF_VALUES) d.x.push(value);
    else delete d.x;
  }
}
