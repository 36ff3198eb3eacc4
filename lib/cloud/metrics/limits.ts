/**
 * CloudWatch metrics limits and the datum the spool stores.
 *
 * Limits (PutMetricData API reference, CloudWatch quotas, EMF specification):
 * - ≤ 1,000 metrics and ≤ 1 MB per PutMetricData request; gzip from 10,240
 *   bytes (the SDK's request-compression threshold)
 * - ≤ 30 dimensions per metric; names 1–255 characters, values 1–1,024
 * - ≤ 150 values per Values/Counts array (PutMetricData), ≤ 100 per EMF array
 *   and ≤ 100 metrics per EMF record
 * - values finite, 0 or of magnitude within [8.515920e-109, 1.174271e+108]
 * - timestamps within 14 days back and 2 hours ahead
 *
 * Spool record (`data`, JSON): a {@linkcode Datum}, one per metric, dimension
 * set and period. Units: ms since the epoch for `t`.
 */

import { type Unit, UNITS } from "../../metrics/mod.ts";

export const MAX_DATUMS = 1000;
export const MAX_REQUEST_BYTES = 1_000_000;
export const COMPRESS_ABOVE = 10_240;
export const MAX_DIMENSIONS = 30;
export const MAX_VALUES = 150;
export const MAX_EMF_VALUES = 100;
export const MAX_EMF_METRICS = 100;
export const MAX_AGE_MS = 14 * 24 * 3600_000;
export const MAX_AHEAD_MS = 2 * 3600_000;
const MAX_MAGNITUDE = 1.174271e108;
const MIN_MAGNITUDE = 8.515920e-109;

/** One aggregated metric of one period, as stored in the spool. */
export interface Datum {
  /** Metric name. */
  n: string;
  u: Unit;
  /** Dimensions, the device's first. */
  d: [string, string][];
  /** Period start, ms since the epoch. */
  t: number;
  /** Storage resolution: 1 (high) or 60 s. */
  r: 1 | 60;
  /** SampleCount, Sum, Minimum, Maximum. */
  c: number;
  s: number;
  mn: number;
  mx: number;
  /** Values and their counts (histograms), instead of the statistic set. */
  v?: number[];
  k?: number[];
  /** The samples themselves while there were at most 100 (EMF sends them as they are). */
  x?: number[];
  /** Kind: counters send their sum in EMF. */
  kind?: "counter";
}

const PRINTABLE = /^[\x20-\x7e]+$/;

/** Throw a TypeError unless `name` is a valid metric name. */
export function checkName(name: unknown): asserts name is string {
  if (typeof name !== "string" || name.length < 1 || name.length > 255) {
    throw new TypeError(`A metric name must be 1 to 255 characters, got ${JSON.stringify(name)}`);
  }
  if (!PRINTABLE.test(name) || name.startsWith(":") || name === "_aws") {
    throw new TypeError(
      `Metric name "${name}" is not valid (printable ASCII, not starting with ":", not "_aws")`,
    );
  }
}

/** Throw a RangeError unless CloudWatch accepts `value`. */
export function checkValue(name: string, value: unknown): asserts value is number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new RangeError(`Metric "${name}" needs a finite number, got ${String(value)}`);
  }
  const m = Math.abs(value);
  if (m !== 0 && (m > MAX_MAGNITUDE || m < MIN_MAGNITUDE)) {
    throw new RangeError(
      `Metric "${name}" value ${value} is outside what CloudWatch stores (0 or 8.5e-109 … 1.17e108 in magnitude)`,
    );
  }
}

/** Throw a TypeError unless `unit` is one of CloudWatch's units. */
export function checkUnit(name: string, unit: unknown): asserts unit is Unit {
  if (!(UNITS as readonly unknown[]).includes(unit)) {
    throw new TypeError(
      `Metric "${name}" has unit ${JSON.stringify(unit)}; expected one of ${UNITS.join(", ")}`,
    );
  }
}

/**
 * Dimensions as sorted pairs; TypeError for a bad name or value, or more than
 * `room` of them (30 minus the ones the agent adds).
 */
export function checkDimensions(
  name: string,
  dims: unknown,
  room: number,
  reserved: readonly string[],
): [string, string][] {
  if (dims === undefined) return [];
  if (typeof dims !== "object" || dims === null || Array.isArray(dims)) {
    throw new TypeError(`Metric "${name}" dimensions must be an object of strings`);
  }
  const out = Object.entries(dims as Record<string, unknown>);
  if (out.length > room) {
    throw new TypeError(
      `Metric "${name}" has ${out.length} dimensions; at most ${room} fit (CloudWatch allows ${MAX_DIMENSIONS} with the agent's own)`,
    );
  }
  for (const [k, v] of out) {
    if (k.length < 1 || k.length > 255 || !PRINTABLE.test(k) || k.startsWith(":")) {
      throw new TypeError(`Metric "${name}" has a bad dimension name ${JSON.stringify(k)}`);
    }
    if (reserved.includes(k)) {
      throw new TypeError(`Metric "${name}" dimension "${k}" is set by the agent`);
    }
    // deno-lint-ignore no-control-regex
    if (typeof v !== "string" || v.length < 1 || v.length > 1024 || /[\x00-\x1f]/.test(v)) {
      throw new TypeError(
        `Metric "${name}" dimension "${k}" needs a string of 1 to 1024 characters, got ${
          JSON.stringify(v)
        }`,
      );
    }
  }
  return (out as [string, string][]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** Whether a stored datum can still be sent at `now` (CloudWatch's time window). */
export function inWindow(t: number, now: number): "ok" | "old" | "new" {
  if (t < now - MAX_AGE_MS) return "old";
  if (t > now + MAX_AHEAD_MS) return "new";
  return "ok";
}
