/**
 * Cloud streams front door: the durable spool every stream uses
 * (`spool.ts`) and its metric families (`spool_metrics.ts`). CloudWatch Logs
 * (`logs/`) and metrics (`metrics/`) have their own front doors. See
 * docs/cloud-logs.md, docs/cloud-metrics.md.
 */

export {
  type Inflight,
  type NewRecord,
  type PeekLimits,
  Spool,
  type SpoolOptions,
  type SpoolRecord,
  spoolStatus,
  SpoolStream,
  type StreamLimits,
  type StreamStatus,
} from "./spool.ts";
export { renderSpoolMetrics, spoolFamilies, spoolStreamsOf } from "./spool_metrics.ts";
