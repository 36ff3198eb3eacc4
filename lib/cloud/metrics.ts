/**
 * Spool streams as Prometheus text, for `/metrics` (one series per stream,
 * label `stream`):
 *
 * - `tern_spool_backlog_records`, `tern_spool_backlog_bytes`,
 *   `tern_spool_oldest_age_seconds` gauges
 * - `tern_spool_records_total{event="appended|sent|dropped|refused"}` counters
 *   (totals since the stream was created; they survive restarts)
 * - `tern_spool_last_error_timestamp_seconds` gauge (0 when none)
 */

import type { StreamStatus } from "./spool.ts";

/** Render `streams` in the Prometheus text exposition format ("" for none). */
export function renderSpoolMetrics(streams: readonly StreamStatus[]): string {
  if (streams.length === 0) return "";
  const lines: string[] = [];
  const label = (s: StreamStatus) => `stream="${s.name.replace(/["\\\n]/g, "_")}"`;
  const gauge = (name: string, help: string, value: (s: StreamStatus) => number) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const s of streams) lines.push(`${name}{${label(s)}} ${value(s)}`);
  };
  gauge("tern_spool_backlog_records", "Records waiting to be sent", (s) => s.backlog);
  gauge("tern_spool_backlog_bytes", "Bytes waiting to be sent", (s) => s.bytes);
  gauge(
    "tern_spool_oldest_age_seconds",
    "Age of the oldest waiting record",
    (s) => Math.round(s.oldestAgeMs / 1000),
  );
  lines.push(
    "# HELP tern_spool_records_total Records by what happened to them",
    "# TYPE tern_spool_records_total counter",
  );
  for (const s of streams) {
    for (const e of ["appended", "sent", "dropped", "refused"] as const) {
      lines.push(`tern_spool_records_total{${label(s)},event="${e}"} ${s[e]}`);
    }
  }
  gauge(
    "tern_spool_last_error_timestamp_seconds",
    "Unix time of the last send error",
    (s) => Math.floor((s.lastErrorAt ?? 0) / 1000),
  );
  return lines.join("\n") + "\n";
}

/** The spool streams in services' status details (`details.spool`), e.g. from `ctx.states()`. */
export function spoolStreamsOf(
  states: readonly { details?: Record<string, unknown> | undefined }[],
): StreamStatus[] {
  return states.flatMap((s) =>
    Array.isArray(s.details?.spool) ? s.details.spool as StreamStatus[] : []
  );
}
