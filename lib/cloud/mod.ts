/**
 * Cloud streams front door: the durable spool every stream uses
 * (`spool.ts`) and CloudWatch Logs (`logs/`). See docs/cloud-logs.md.
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
