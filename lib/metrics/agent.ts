/**
 * The agent's own series, collected from its services' states:
 *
 * - `tern_service_up{service}` gauge (1 running, 0 otherwise)
 * - `tern_service_restarts_total{service}` counter (CloudWatch
 *   `ServiceRestarts`, Count, dimension Service)
 * - each running service's `metricFamilies()` (web requests, MQTT…)
 * - the sync engine's figures when sync runs: `tern_sync_backlog` gauge
 *   (CloudWatch `SyncBacklog`, Count), `tern_sync_items_sent_total`,
 *   `tern_sync_items_received_total`, `tern_sync_conflicts_total`,
 *   `tern_sync_retries_total`, `tern_sync_rejected_total` counters,
 *   `tern_sync_up_age_seconds` / `tern_sync_down_age_seconds` gauges (-1: never),
 *   `tern_sync_model_backlog{model}` gauge (CloudWatch `SyncBacklog`, Count,
 *   dimension Model) from the sync status
 */

import type { ServiceState } from "../service.ts";
import type { MetricFamily } from "./registry.ts";

/** What the collector needs of the agent. */
export interface AgentView {
  states(details?: boolean): ServiceState[];
  /** A running service (throws when it is not). */
  get(name: string): unknown;
}

const SYNC: Record<string, [string, "gauge" | "counter", string]> = {
  SyncBacklog: ["tern_sync_backlog", "gauge", "Local changes not yet in DynamoDB"],
  SyncItemsSent: ["tern_sync_items_sent_total", "counter", "Items sent to DynamoDB"],
  SyncItemsReceived: ["tern_sync_items_received_total", "counter", "Items applied from DynamoDB"],
  SyncConflicts: ["tern_sync_conflicts_total", "counter", "Conflicts resolved"],
  SyncRetries: ["tern_sync_retries_total", "counter", "Retried sync requests"],
  SyncRejected: ["tern_sync_rejected_total", "counter", "Items DynamoDB refused"],
  SyncUpAgeSeconds: ["tern_sync_up_age_seconds", "gauge", "Seconds since the last upload pass"],
  SyncDownAgeSeconds: ["tern_sync_down_age_seconds", "gauge", "Seconds since the last download"],
};

/** The families of `agent`'s services. */
export function agentFamilies(agent: AgentView): MetricFamily[] {
  const states = agent.states(false);
  const out: MetricFamily[] = [{
    name: "tern_service_up",
    help: "1 while the service runs",
    type: "gauge",
    series: states.map((s) => ({
      labels: { service: s.name },
      value: s.state === "running" ? 1 : 0,
    })),
  }, {
    name: "tern_service_restarts_total",
    help: "Restarts after failures",
    type: "counter",
    cloud: { name: "ServiceRestarts", unit: "Count", dimensions: (l) => ({ Service: l.service! }) },
    series: states.map((s) => ({ labels: { service: s.name }, value: s.restarts })),
  }];
  for (const s of states) {
    if (s.state !== "running") continue;
    let svc: {
      metricFamilies?: () => MetricFamily[];
      metrics?: () => Record<string, number>;
      status?: () => Record<string, unknown>;
    };
    try {
      svc = agent.get(s.name) as typeof svc;
    } catch {
      continue; // stopped meanwhile
    }
    try {
      if (svc.metricFamilies) out.push(...svc.metricFamilies());
      if (s.name === "sync" && typeof svc.metrics === "function") {
        out.push(...syncFamilies(svc.metrics()));
        const models = svc.status?.().models;
        if (Array.isArray(models)) out.push(modelBacklog(models));
      }
    } catch { /* a service's metrics bug leaves its series out; /metrics still answers */ }
  }
  return out;
}

function modelBacklog(models: unknown[]): MetricFamily {
  const series = [];
  for (const m of models as { name?: unknown; backlog?: unknown }[]) {
    if (typeof m?.name === "string" && typeof m.backlog === "number") {
      series.push({ labels: { model: m.name }, value: m.backlog });
    }
  }
  return {
    name: "tern_sync_model_backlog",
    help: "Local changes of a model not yet in DynamoDB",
    type: "gauge",
    cloud: { name: "SyncBacklog", unit: "Count", dimensions: (l) => ({ Model: l.model! }) },
    series,
  };
}

function syncFamilies(m: Record<string, number>): MetricFamily[] {
  const out: MetricFamily[] = [];
  for (const [k, v] of Object.entries(m)) {
    const d = SYNC[k];
    if (!d || typeof v !== "number") continue;
    out.push({
      name: d[0],
      type: d[1],
      help: d[2],
      series: [{ value: v }],
      ...(k === "SyncBacklog" ? { cloud: { name: "SyncBacklog", unit: "Count" as const } } : {}),
    });
  }
  return out;
}
