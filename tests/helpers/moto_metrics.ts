/**
 * moto as the CloudWatch metrics peer: `startMetricsEndpoint(moto)` puts the
 * SigV4-verifying test endpoint (service "monitoring") in front of moto's
 * CloudWatch (AWS JSON 1.0). moto does not read gzip bodies, so the endpoint
 * keeps the request as it arrived (`requests`, for assertions on the bytes)
 * and hands moto the decompressed JSON. Reads for assertions go straight to
 * moto (`cloudwatch()`, `statistics()`).
 *
 * ```ts
 * await using moto = await startMoto();
 * await using cw = await startMetricsEndpoint(moto);      // cw.url for cloud.metrics.endpoint
 * const points = await statistics(moto, { name: "CpuUtilization", dimensions: { Device: "d1" }, … });
 * ```
 */

import { gunzipSync } from "node:zlib";
import { AwsJsonClient, type AwsJsonClientOptions, staticCredentials } from "../../lib/aws/mod.ts";
import { type Config, configSchema } from "../../lib/config/mod.ts";
import { type AwsServer, startAwsServer, type VerifiedRequest } from "./aws_sigv4_server.ts";
import { type Moto, MOTO_CREDENTIALS, MOTO_KEYS, MOTO_REGION } from "./moto.ts";

/** Options of {@linkcode startMetricsEndpoint}. */
export interface MetricsEndpointOptions {
  /** Answer instead of moto when this returns a Response (outages, faults). */
  intercept?: (req: VerifiedRequest) => Response | undefined | Promise<Response | undefined>;
  /** The endpoint's clock for signature times (a fake clock's now). @default Date.now */
  now?: () => number;
}

/** The JSON body of a request as CloudWatch reads it (gunzipped when it came gzipped). */
export function requestJson(req: VerifiedRequest): Record<string, unknown> {
  const raw = req.headers.get("content-encoding") === "gzip" ? gunzipSync(req.body) : req.body;
  return JSON.parse(new TextDecoder().decode(raw));
}

/** The SigV4-verifying endpoint for service "monitoring" in front of `moto`. */
export function startMetricsEndpoint(
  moto: Moto,
  options: MetricsEndpointOptions = {},
): Promise<AwsServer> {
  return startAwsServer({
    keys: MOTO_KEYS,
    region: MOTO_REGION,
    service: "monitoring",
    ...(options.now ? { now: options.now } : {}),
    handler: async (req) => {
      const own = await options.intercept?.(req);
      if (own) return own;
      const body = req.headers.get("content-encoding") === "gzip"
        ? new Uint8Array(gunzipSync(req.body))
        : req.body;
      const r = await fetch(moto.url, {
        method: "POST",
        headers: {
          "content-type": req.headers.get("content-type") ?? "application/x-amz-json-1.0",
          "x-amz-target": req.headers.get("x-amz-target") ?? "",
          authorization: req.headers.get("authorization") ?? "",
        },
        body: body as Uint8Array<ArrayBuffer>,
      });
      return new Response(await r.arrayBuffer(), {
        status: r.status,
        headers: { "content-type": r.headers.get("content-type") ?? "application/json" },
      });
    },
  });
}

/** Call a CloudWatch operation on moto directly (JSON 1.0). */
export async function cloudwatch<T = Record<string, unknown>>(
  moto: Moto,
  operation: string,
  input: unknown,
): Promise<T> {
  const r = await fetch(moto.url, {
    method: "POST",
    headers: {
      "content-type": "application/x-amz-json-1.0",
      "x-amz-target": `GraniteServiceVersion20100801.${operation}`,
      authorization:
        `AWS4-HMAC-SHA256 Credential=AKIDTERNLOGS0001/20260101/${MOTO_REGION}/monitoring/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify(input),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`moto ${operation}: ${r.status} ${text}`);
  return JSON.parse(text || "{}") as T;
}

/** A datapoint of GetMetricStatistics. */
export interface Datapoint {
  Timestamp: number;
  SampleCount: number;
  Sum: number;
  Minimum: number;
  Maximum: number;
  Unit?: string;
}

/** GetMetricStatistics of one metric, oldest first. Times in ms. */
export async function statistics(moto: Moto, q: {
  namespace?: string;
  name: string;
  dimensions: Record<string, string>;
  start: number;
  end: number;
  period?: number;
}): Promise<Datapoint[]> {
  const r = await cloudwatch<{ Datapoints: Datapoint[] }>(moto, "GetMetricStatistics", {
    Namespace: q.namespace ?? "Tern",
    MetricName: q.name,
    Dimensions: Object.entries(q.dimensions).map(([Name, Value]) => ({ Name, Value })),
    StartTime: q.start / 1000,
    EndTime: q.end / 1000,
    Period: q.period ?? 60,
    Statistics: ["SampleCount", "Sum", "Minimum", "Maximum"],
  });
  return r.Datapoints.sort((a, b) => a.Timestamp - b.Timestamp);
}

/** A cloud-mode config (device "d1", the test keys) with `cloud.metrics` on. */
export function cloudMetricsConfig(
  metrics: Record<string, unknown>,
  more: Record<string, unknown> = {},
): Config {
  return configSchema.parse({
    agent: { mode: "cloud" },
    device: { id: "d1" },
    aws: { region: MOTO_REGION, credentials: MOTO_CREDENTIALS },
    ...more,
    cloud: { ...(more.cloud as object ?? {}), metrics: { enabled: true, ...metrics } },
  });
}

/** A CloudWatch client of our own (lib/aws) for `endpoint`: JSON 1.0, gzip from 10,240 bytes, no retries. */
export function metricsClient(
  endpoint: string,
  extra: Partial<AwsJsonClientOptions> = {},
): AwsJsonClient {
  return new AwsJsonClient({
    service: "monitoring",
    region: MOTO_REGION,
    targetPrefix: "GraniteServiceVersion20100801",
    jsonVersion: "1.0",
    compressAbove: 10_240,
    endpoint,
    credentials: staticCredentials(MOTO_CREDENTIALS),
    retries: 0,
    ...extra,
  });
}
