/**
 * Datums as CloudWatch embedded metric format (EMF) log events, sent through
 * the CloudWatch Logs sender. One record per period and dimension set, at most
 * 100 metrics per record and 100 values per metric:
 *
 * ```json
 * {"_aws":{"Timestamp":1767225600000,"CloudWatchMetrics":[{"Namespace":"Tern",
 *   "Dimensions":[["Device","Core"]],"Metrics":[{"Name":"CpuUtilization","Unit":"Percent","StorageResolution":60}]}]},
 *  "Device":"pump-42","Core":"0","CpuUtilization":[12.5,14,13.25],
 *  "Statistics":{"CpuUtilization":{"SampleCount":3,"Sum":39.75,"Minimum":12.5,"Maximum":14}}}
 * ```
 *
 * What CloudWatch computes from the values: a gauge with at most 100 samples
 * in the period sends them all (every statistic exact); past 100, 100 values
 * whose minimum, maximum and mean are the period's (mean exact unless it lies
 * within 1 % of an extreme); a counter sends one value, its sum; a histogram
 * its bucket values repeated by count (scaled to 100 when larger). The exact
 * statistic set is kept in each record's `Statistics` member (Logs Insights).
 */

import { encodeEvent } from "../logs/mod.ts";
import { type Datum, MAX_EMF_METRICS, MAX_EMF_VALUES } from "./limits.ts";

/** Where EMF records go (`{date}` in a name: the record's UTC day). */
export interface EmfTarget {
  namespace: string;
  group: string;
  stream: string;
}

/** Bytes of metric values after which a record is closed (an event holds 256 KB). */
const MAX_RECORD_CHARS = 200_000;

/** The EMF documents of `datums` (JSON objects, for tests and `emfRecords`). */
export function emfDocuments(
  datums: readonly Datum[],
  namespace: string,
): Record<string, unknown>[] {
  const groups = new Map<string, Datum[]>();
  for (const d of datums) {
    const k = `${d.t}|${JSON.stringify(d.d)}`;
    const g = groups.get(k);
    if (g) g.push(d);
    else groups.set(k, [d]);
  }
  const out: Record<string, unknown>[] = [];
  for (const g of groups.values()) {
    const first = g[0]!;
    const dimNames = first.d.map((p) => p[0]);
    let doc: Record<string, unknown> | undefined;
    let metrics: { Name: string; Unit: string; StorageResolution: number }[] = [];
    let stats: Record<string, unknown> = {};
    let chars = 0;
    const open = () => {
      metrics = [];
      stats = {};
      chars = 0;
      doc = {
        _aws: {
          Timestamp: first.t,
          CloudWatchMetrics: [{
            Namespace: namespace,
            Dimensions: [dimNames],
            Metrics: metrics,
          }],
        },
      };
      for (const [k, v] of first.d) doc[k] = v;
      doc.Statistics = stats;
      out.push(doc);
    };
    for (const d of g) {
      if (dimNames.includes(d.n)) continue; // a metric named like a dimension cannot be a member
      if (!doc || metrics.length >= MAX_EMF_METRICS || chars > MAX_RECORD_CHARS) open();
      if (doc![d.n] !== undefined) open(); // the same name twice (e.g. two units): next record
      const values = emfValues(d);
      metrics.push({ Name: d.n, Unit: d.u, StorageResolution: d.r });
      doc![d.n] = values.length === 1 ? values[0] : values;
      stats[d.n] = { SampleCount: d.c, Sum: d.s, Minimum: d.mn, Maximum: d.mx };
      chars += values.length * 12 + d.n.length * 2 + 80;
    }
  }
  return out;
}

/** The values EMF carries for `d` (≤ 100). */
export function emfValues(d: Datum): number[] {
  if (d.v && d.k) {
    const total = d.k.reduce((a, b) => a + b, 0);
    const f = total > MAX_EMF_VALUES ? MAX_EMF_VALUES / total : 1;
    const out: number[] = [];
    d.v.forEach((v, i) => {
      const n = Math.max(1, Math.round(d.k![i]! * f));
      for (let j = 0; j < n && out.length < MAX_EMF_VALUES; j++) out.push(v);
    });
    return out;
  }
  if (d.kind === "counter") return [d.s];
  if (d.x && d.x.length === d.c) return d.x;
  // More samples than fit: the extremes and values that keep the mean.
  const n = MAX_EMF_VALUES;
  const mean = d.s / d.c;
  const rest = Math.min(d.mx, Math.max(d.mn, (mean * n - d.mn - d.mx) / (n - 2)));
  return [d.mn, d.mx, ...new Array<number>(n - 2).fill(rest)];
}

/** Spool records (CloudWatch Logs events) of `datums` for the logs sender. */
export function emfRecords(
  datums: readonly Datum[],
  target: EmfTarget,
): { time: number; data: string }[] {
  const dated = target.group.includes("{date}") || target.stream.includes("{date}");
  return emfDocuments(datums, target.namespace).map((doc) => {
    const time = (doc._aws as { Timestamp: number }).Timestamp;
    // `{date}` in a name is the record's UTC day, as for log events.
    const day = dated ? new Date(time).toISOString().slice(0, 10) : "";
    return {
      time,
      data: encodeEvent(
        dated ? target.group.replaceAll("{date}", day) : target.group,
        dated ? target.stream.replaceAll("{date}", day) : target.stream,
        JSON.stringify(doc),
      ),
    };
  });
}
