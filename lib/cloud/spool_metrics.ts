/**
 * Spool streams as metric families, for the agent's registry (`/metrics` and
 * CloudWatch), one series per stream, label `stream`:
 *
 * - `tern_spool_backlog_records` (CloudWatch `SpoolBacklog`, Count, dimension
 *   Stream), `tern_spool_backlog_bytes`, `tern_spool_oldest_age_seconds` gauges
 * - `tern_spool_records_total{event="appended|sent|dropped|refused"}` counters
 *   (totals since the stream was created; they survive restarts; CloudWatch
 *   `SpoolDropped`, Count, dimension Stream, from the dropped ones)
 * - `tern_spool_last_error_timestamp_seconds` gauge (0 when none)
 */

import type { MetricFamily, Series } from "../metrics/mod.ts";
import { renderPrometheus } from "../metrics/mod.ts";
import type { StreamStatus } from "./spool.ts";

/** The families of `streams` (none for no stream). */
export function spoolFamilies(streams: readonly StreamStatus[]): MetricFamily[] {
  if (streams.length === 0) return [];
  const label = (s: StreamStatus) => s.name.replace(/["\\\n]/g, "_");
  const gauge = (
    name: string,
    help: string,
    value: (s: StreamStatus) => number,
    cloud?: MetricFamily["cloud"],
  ): MetricFamily => ({
    name,
    help,
    type: "gauge",
    ...(cloud ? { cloud } : {}),
    series: streams.map((s) => ({ labels: { stream: label(s) }, value: value(s) })),
  });
  const totals: Series[] = [];
  for (const s of streams) {
    for (const e of ["appended", "sent", "dropped", "refused"] as const) {
      totals.push({ labels: { stream: label(s), event: e }, value: s[e] });
    }
  }
  return [
    gauge("tern_spool_backlog_records", "Records waiting to be sent", (s) => s.backlog, {
      name: "SpoolBacklog",
      unit: "Count",
      dimensions: (l) => ({ Stream: l.stream! }),
    }),
    gauge("tern_spool_backlog_bytes", "Bytes waiting to be sent", (s) => s.bytes),
    gauge(
      "tern_spool_oldest_age_seconds",
      "Age of the oldest waiting record",
      (s) => Math.round(s.oldestAgeMs / 1000),
    ),
    {
      name: "tern_spool_records_total",
      help: "Records by what happened to them",
      type: "counter",
      cloud: {
        name: "SpoolDropped",
        unit: "Count",
        include: (l) => l.event === "dropped",
        dimensions: (l) => ({ Stream: l.stream! }),
      },
      series: totals,
    },
    gauge(
      "tern_spool_last_error_timestamp_seconds",
      "Unix time of the last send error",
      (s) => Math.floor((s.lastErrorAt ?? 0) / 1000),
    ),
  ];
}

/** Render `streams` in the Prometheus text exposition format ("" for none). */
export function renderSpoolMetrics(streams: readonly StreamStatus[]): string {
  return renderPrometheus(spoolFamilies(streams));
}

/** The spool streams in services' status details (`details.spool`), e.g. from `ctx.states()`. */
export function spoolStreamsOf(
  states: readonly { details?: Record<string, unknown> | undefined }[],
): StreamStatus[] {
  return states.flatMap((s) =>
    Array.isArray(s.details?.spool) ? s.details.spool as StreamStatus[] : []
  );
}
