/**
 * The device application's metrics: `put(name, value, options)` records a
 * gauge sample, `count(name, n, options)` a counter increment. Both are
 * aggregated into the current period (lib/cloud/metrics/aggregate.ts) and
 * kept for `/metrics` (`tern_app_<name>` gauges with the last value,
 * `tern_app_<name>_total` counters with the total since start; dimensions
 * become labels).
 *
 * Bad input (a name, unit, dimension or value CloudWatch would refuse, a time
 * outside −14 days/+2 h, a unit changed for a name, more than `maxSeries`
 * distinct series) throws a TypeError or RangeError and records nothing.
 * A call costs one Map lookup when the series was seen before.
 */

import type { MetricFamily, Unit } from "../../metrics/mod.ts";
import { type AggHandle, Aggregator } from "./aggregate.ts";
import {
  checkDimensions,
  checkName,
  checkUnit,
  checkValue,
  MAX_AGE_MS,
  MAX_AHEAD_MS,
  MAX_DIMENSIONS,
} from "./limits.ts";

/** Options of one `put()` or `count()`. */
export interface PutOptions {
  /** A CloudWatch unit; fixed for a name once used. @default "None" ("Count" for counters) */
  unit?: Unit;
  /** Up to 29 dimensions (the agent adds Device). */
  dimensions?: Record<string, string>;
  /** The sample's time, ms since the epoch. @default now */
  time?: number;
  /**
   * Store this name at 1 s resolution, aggregated per `highResolutionPeriod`
   * (fixed for the name once used; also `cloud.metrics.highResolution`). @default false
   */
  highResolution?: boolean;
}

/** One sample of `putMany` (and of `POST /api/metrics`). */
export interface BatchItem {
  name: string;
  value: number;
  /** @default "gauge" */
  type?: "gauge" | "counter";
  unit?: Unit;
  dimensions?: Record<string, string>;
  /** ms since the epoch. @default now */
  time?: number;
  /** See {@linkcode PutOptions.highResolution}. */
  highResolution?: boolean;
}

interface _Entry {
  name: string;
  unit: Unit;
  kind: "gauge" | "counter";
  dims: [string, string][];
  key: string;
  last: number;
  total: number;
  /** The open aggregate of the current period (skips the period lookup). */
  agg: AggHandle | undefined;
}

/** Options of {@linkcode AppMetrics}. */
export interface AppMetricsOptions {
  aggregator: Aggregator;
  now: () => number;
  /** Most distinct (name, dimensions) series. @default 1000 */
  maxSeries?: number;
}

export class AppMetrics {
  readonly #agg: Aggregator;
  readonly #now: () => number;
  readonly #max: number;
  readonly #reserved: string[];
  readonly #room: number;
  /** Cache key (name, or name + dimensions JSON) → entry. */
  readonly #entries = new Map<string, _Entry>();
  /** Aggregation key → entry (one per series, whatever the dimensions' order). */
  readonly #series = new Map<string, _Entry>();
  /** Unit of each name. */
  readonly #units = new Map<string, Unit>();

  constructor(options: AppMetricsOptions) {
    this.#agg = options.aggregator;
    this.#now = options.now;
    this.#max = options.maxSeries ?? 1000;
    this.#reserved = options.aggregator.base.map((p) => p[0]);
    this.#room = MAX_DIMENSIONS - this.#reserved.length;
  }

  /** Record a gauge sample. */
  put(name: string, value: number, options?: PutOptions): void {
    this.#record("gauge", name, value, options);
  }

  /** Add `n` (default 1) to a counter. */
  count(name: string, n = 1, options?: PutOptions): void {
    this.#record("counter", name, n, options);
  }

  /**
   * Record several samples at once, all or none: each is checked first (a
   * TypeError or RangeError whose message starts with `metrics[i]`), then
   * all are recorded.
   */
  putMany(items: readonly BatchItem[]): void {
    const news = new Map<string, string>(); // new series key → kind, within the batch
    const units = new Map<string, Unit>();
    items.forEach((it, i) => {
      try {
        this.#check(it, news, units);
      } catch (e) {
        const E = e instanceof RangeError ? RangeError : TypeError;
        throw new E(`metrics[${i}]: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
    for (const it of items) {
      const o: PutOptions = {};
      if (it.unit !== undefined) o.unit = it.unit;
      if (it.dimensions !== undefined) o.dimensions = it.dimensions;
      if (it.time !== undefined) o.time = it.time;
      if (it.highResolution !== undefined) o.highResolution = it.highResolution;
      this.#record(it.type ?? "gauge", it.name, it.value, o);
    }
  }

  /** Every check `#record` makes, without recording (for `putMany`). */
  #check(it: BatchItem, news: Map<string, string>, units: Map<string, Unit>): void {
    const kind = it.type ?? "gauge";
    if (kind !== "gauge" && kind !== "counter") {
      throw new TypeError(`type must be "gauge" or "counter", got ${JSON.stringify(kind)}`);
    }
    checkName(it.name);
    if (it.highResolution !== undefined && typeof it.highResolution !== "boolean") {
      throw new TypeError(`Metric "${it.name}" highResolution must be true or false`);
    }
    if (
      it.highResolution === true && !this.#agg.isHighResolution(it.name) &&
      (this.#units.has(it.name) || units.has(it.name))
    ) {
      throw new TypeError(`Metric "${it.name}" is stored at standard resolution already`);
    }
    const u = it.unit ?? units.get(it.name) ?? this.#units.get(it.name) ??
      (kind === "counter" ? "Count" : "None");
    checkUnit(it.name, u);
    const had = this.#units.get(it.name) ?? units.get(it.name);
    if (had !== undefined && had !== u) {
      throw new TypeError(`Metric "${it.name}" has unit "${had}", not "${u}"`);
    }
    const pairs = checkDimensions(it.name, it.dimensions, this.#room, this.#reserved);
    if (pairs.some((p) => p[0] === it.name)) {
      throw new TypeError(`Metric "${it.name}" cannot have a dimension of the same name`);
    }
    checkValue(it.name, it.value);
    if (kind === "counter" && it.value < 0) {
      throw new RangeError(`Counter "${it.name}" cannot go down (got ${it.value})`);
    }
    if (it.time !== undefined) {
      const now = this.#now();
      if (!Number.isFinite(it.time) || it.time < now - MAX_AGE_MS || it.time > now + MAX_AHEAD_MS) {
        throw new RangeError(
          `Metric "${it.name}" time ${it.time} is outside what CloudWatch takes (14 days back, 2 hours ahead)`,
        );
      }
    }
    const key = Aggregator.key(it.name, pairs);
    const e = this.#series.get(key);
    const k = e?.kind ?? news.get(key);
    if (k !== undefined && k !== kind) {
      throw new TypeError(
        `Metric "${it.name}" is a ${k}; use ${k === "gauge" ? "put" : "count"}()`,
      );
    }
    if (k === undefined) {
      if (this.#series.size + news.size >= this.#max) {
        throw new RangeError(
          `Too many application metric series (${this.#max}); "${it.name}" is not recorded`,
        );
      }
      news.set(key, kind);
    }
    units.set(it.name, u);
  }

  #record(kind: "gauge" | "counter", name: string, value: number, options?: PutOptions): void {
    const dims = options?.dimensions;
    let ck = name;
    if (dims !== undefined) {
      // A content key without JSON.stringify (≈ 2× faster); the entry holds the checked, sorted pairs.
      for (const k in dims) {
        const v = dims[k];
        if (typeof v !== "string") ck = "\u0000"; // not cacheable: #entry's checks refuse it
        ck += "\u0001" + k + "\u0002" + v;
      }
    }
    let e = this.#entries.get(ck);
    if (e === undefined || e.kind !== kind) {
      e = this.#entry(kind, name, dims, options?.unit, ck, options?.highResolution);
    } else if (options?.unit !== undefined && options.unit !== e.unit) {
      throw new TypeError(`Metric "${name}" has unit "${e.unit}", not "${options.unit}"`);
    } else if (options?.highResolution === true && !this.#agg.isHighResolution(name)) {
      throw new TypeError(`Metric "${name}" is stored at standard resolution already`);
    }
    checkValue(name, value);
    let time = options?.time;
    if (time === undefined) time = this.#now();
    else {
      const now = this.#now();
      if (!Number.isFinite(time) || time < now - MAX_AGE_MS || time > now + MAX_AHEAD_MS) {
        throw new RangeError(
          `Metric "${name}" time ${time} is outside what CloudWatch takes (14 days back, 2 hours ahead)`,
        );
      }
    }
    if (kind === "counter" && value < 0) {
      throw new RangeError(`Counter "${name}" cannot go down (got ${value})`);
    }
    e.agg = this.#agg.add(
      e.name,
      e.unit,
      e.dims,
      value,
      time,
      kind === "counter" ? "counter" : undefined,
      e.key,
      e.agg,
    );
    e.last = value;
    e.total += value;
  }

  #entry(
    kind: "gauge" | "counter",
    name: string,
    dims: Record<string, string> | undefined,
    unit: Unit | undefined,
    ck: string,
    highResolution?: boolean,
  ): _Entry {
    checkName(name);
    if (highResolution !== undefined && typeof highResolution !== "boolean") {
      throw new TypeError(`Metric "${name}" highResolution must be true or false`);
    }
    const u = unit ?? this.#units.get(name) ?? (kind === "counter" ? "Count" : "None");
    checkUnit(name, u);
    const had = this.#units.get(name);
    if (had !== undefined && had !== u) {
      throw new TypeError(`Metric "${name}" has unit "${had}", not "${u}"`);
    }
    const pairs = checkDimensions(name, dims, this.#room, this.#reserved);
    if (pairs.some((p) => p[0] === name)) {
      throw new TypeError(`Metric "${name}" cannot have a dimension of the same name`);
    }
    const key = Aggregator.key(name, pairs);
    let e = this.#series.get(key);
    if (e && e.kind !== kind) {
      throw new TypeError(
        `Metric "${name}" is a ${e.kind}; use ${e.kind === "gauge" ? "put" : "count"}()`,
      );
    }
    if (!e) {
      if (this.#series.size >= this.#max) {
        throw new RangeError(
          `Too many application metric series (${this.#max}); "${name}" is not recorded`,
        );
      }
      if (highResolution === true && !this.#agg.isHighResolution(name)) {
        if (this.#units.has(name)) {
          throw new TypeError(`Metric "${name}" is stored at standard resolution already`);
        }
        this.#agg.markHighResolution(name);
      }
      e = { name, unit: u, kind, dims: pairs, key, last: 0, total: 0, agg: undefined };
      this.#series.set(key, e);
      this.#units.set(name, u);
    }
    if (this.#entries.size < this.#max * 4) this.#entries.set(ck, e);
    return e;
  }

  /** Series seen so far. */
  get size(): number {
    return this.#series.size;
  }

  /** `tern_app_*` families for the registry (local only: CloudWatch gets the aggregates). */
  families(): MetricFamily[] {
    const byName = new Map<string, _Entry[]>();
    for (const e of this.#series.values()) {
      const g = byName.get(e.name);
      if (g) g.push(e);
      else byName.set(e.name, [e]);
    }
    const out: MetricFamily[] = [];
    for (const [name, entries] of byName) {
      const kind = entries[0]!.kind;
      const base = `tern_app_${name.replace(/[^A-Za-z0-9_]/g, "_")}`;
      out.push({
        name: kind === "counter" ? `${base}_total` : base,
        help: `Application metric "${name}" (${entries[0]!.unit})`,
        type: kind,
        series: entries.map((e) => ({
          labels: Object.fromEntries(e.dims.map(([k, v]) => [k.replace(/[^A-Za-z0-9_]/g, "_"), v])),
          value: kind === "counter" ? e.total : e.last,
        })),
      });
    }
    return out;
  }
}
