/**
 * Shadow state as metric families for the agent's registry
 * (`ShadowService.metricFamilies()`; `/metrics` and CloudWatch), one series
 * per shadow (label `shadow`, the local name):
 *
 * - `tern_shadow_version` gauge: cloud version of the last synced document
 * - `tern_shadow_pending_fields` gauge: fields waiting to be sent
 *   (CloudWatch `ShadowPending`, Count, summed)
 * - `tern_shadow_last_sync_seconds` gauge: Unix time of the last accepted exchange (0: never)
 * - `tern_shadow_events_total{event="update|conflict|gap|echo|refused|retry"}` counter
 *   (CloudWatch `ShadowConflicts`, Count: the conflicts only)
 */

import type { MetricFamily } from "../../metrics/mod.ts";
import type { ShadowStatus } from "./_types.ts";

export function shadowFamilies(status: Record<string, ShadowStatus>): MetricFamily[] {
  const all = Object.entries(status);
  const per = (f: (s: ShadowStatus) => number) =>
    all.map(([shadow, s]) => ({ labels: { shadow }, value: f(s) }));
  const events: [string, keyof ShadowStatus][] = [
    ["update", "updates"],
    ["conflict", "conflicts"],
    ["gap", "gaps"],
    ["echo", "echoes"],
    ["refused", "refused"],
    ["retry", "retries"],
  ];
  return [
    {
      name: "tern_shadow_version",
      type: "gauge",
      help: "Cloud version of the last synced document",
      series: per((s) => s.version),
    },
    {
      name: "tern_shadow_pending_fields",
      type: "gauge",
      help: "Fields waiting to be sent",
      series: per((s) => s.pending),
      cloud: { name: "ShadowPending", unit: "Count" },
    },
    {
      name: "tern_shadow_last_sync_seconds",
      type: "gauge",
      help: "Unix time of the last accepted exchange (0: never)",
      series: per((s) => Math.floor((s.lastSync ?? 0) / 1000)),
    },
    {
      name: "tern_shadow_events_total",
      type: "counter",
      help: "Shadow exchanges by outcome",
      series: all.flatMap(([shadow, s]) =>
        events.map(([event, key]) => ({ labels: { shadow, event }, value: Number(s[key]) }))
      ),
      cloud: { name: "ShadowConflicts", unit: "Count", include: (l) => l.event === "conflict" },
    },
  ];
}
