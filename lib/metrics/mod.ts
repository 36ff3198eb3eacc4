/**
 * Metrics front door: the agent's one registry (feeds `/metrics` and
 * CloudWatch), the Prometheus renderer and the process collector. The OS
 * collector is `./os.ts`, imported by the cloud metrics service only: it uses
 * `node:fs` (statfs) and `node:os`, and loading Node's compatibility layer
 * costs a local-mode agent, which never collects OS metrics, about 6 MB.
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
