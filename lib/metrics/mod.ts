/**
 * Metrics front door: the agent's one registry (feeds `/metrics` and
 * CloudWatch), the Prometheus renderer, the process and OS collectors.
 * See docs/cloud-metrics.md.
 */

export {
  type CloudSpec,
  type Collector,
  type HistogramFamily,
  type HistogramSeries,
  type Labels,
  type MetricFamily,
  MetricsRegistry,
  type ScalarFamily,
  type Series,
  type Unit,
  UNITS,
} from "./registry.ts";
export { renderPrometheus } from "./prometheus.ts";
export { EventLoopLag, processFamilies } from "./process.ts";
export { OsCollector, type OsCollectorOptions, type OsGroups } from "./os.ts";
