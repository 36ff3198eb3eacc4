/**
 * CloudWatch metrics front door: the "cloud.metrics" service, the
 * application API, aggregation, EMF records and the PutMetricData sender.
 * The registry they sample is lib/metrics. See docs/cloud-metrics.md.
 */

export { cloudMetricsEnabled, CloudMetricsService, cloudMetricsService } from "./service.ts";
export { AppMetrics, type AppMetricsOptions, type BatchItem, type PutOptions } from "./app.ts";
export { type AggHandle, Aggregator, type AggregatorOptions } from "./aggregate.ts";
export { emfDocuments, emfRecords, type EmfTarget, emfValues } from "./emf.ts";
export { metricDatum, PutSender, type PutSenderOptions } from "./put_sender.ts";
export {
  checkDimensions,
  checkName,
  checkUnit,
  checkValue,
  COMPRESS_ABOVE,
  type Datum,
  inWindow,
  MAX_AGE_MS,
  MAX_AHEAD_MS,
  MAX_DATUMS,
  MAX_DIMENSIONS,
  MAX_EMF_METRICS,
  MAX_EMF_VALUES,
  MAX_REQUEST_BYTES,
  MAX_VALUES,
} from "./limits.ts";
