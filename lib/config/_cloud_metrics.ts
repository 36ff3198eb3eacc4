/**
 * The `cloud.metrics` section: CloudWatch metrics (see docs/cloud-metrics.md).
 *
 * ```json5
 * cloud: { metrics: {
 *   enabled: true,
 *   via: "emf",                  // or "putMetricData"
 *   namespace: "Tern", interval: 10000, period: 60000,
 *   highResolution: ["CpuUtilization"],            // stored at 1 s, per highResolutionPeriod
 *   os: { perCore: false, temperature: true, disk: { paths: ["/data"] } },
 *   // emulators only: endpoint: "http://127.0.0.1:5000"
 * } }
 * ```
 *
 * Units: ms.
 */

import * as z from "../validate/mod.ts";
import { resolve } from "../path.ts";
import { ms, type PathBase, type PermissionNeeds } from "./_types.ts";

const flag = (on: boolean) => z.boolean().default(on);
const TEMPLATE = /\{(thing|device|date)\}/g;

export const metricsSection = z.strictObject({
  enabled: z.boolean().default(false),
  /** "emf": records through CloudWatch Logs (group/stream below); "putMetricData": the CloudWatch API. */
  via: z.enum(["emf", "putMetricData"]).default("emf"),
  /** Region. @default aws.region */
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'a region like "eu-west-1"').optional(),
  /** PutMetricData endpoint instead of `https://monitoring.REGION.amazonaws.com` (emulators). */
  endpoint: z.url().optional(),
  /** CloudWatch namespace (1–255 characters, not starting with "AWS/"). */
  namespace: z.string().min(1).max(255).regex(/^[\x20-\x7e]+$/, "printable ASCII").refine(
    (v) => !v.startsWith("AWS/") && !v.startsWith(":"),
    'a namespace not starting with "AWS/" or ":"',
  ).default("Tern"),
  /** How often the OS and agent series are sampled. */
  interval: ms().min(1000).max(3_600_000).default(10_000),
  /** Aggregation period of standard-resolution metrics: a multiple of 60 s. */
  period: ms().min(60_000).max(3_600_000).refine((v) => v % 60_000 === 0, "a multiple of 60000")
    .default(60_000),
  /** Metric names stored at 1 s resolution, aggregated per `highResolutionPeriod`. */
  highResolution: z.array(z.string().min(1).max(255)).default([]),
  /** CloudWatch names of agent and OS metrics not to send (they stay on /metrics): cost control. */
  exclude: z.array(z.string().min(1).max(255)).default([]),
  highResolutionPeriod: z.union([1000, 5000, 10_000, 30_000].map((v) => z.literal(v))).default(
    1000,
  ),
  /** EMF records: log group and stream ({thing}, {device}). @default cloud.logs.group */
  group: z.string().min(1).max(512).refine(
    (v) => /^[.\-_/#A-Za-z0-9]+$/.test(v.replace(TEMPLATE, "x")),
    "a log group name: letters, digits and . - _ / #, with {thing}, {device}, {date}",
  ).optional(),
  stream: z.string().min(1).max(512).refine(
    (v) => !/[:*{}]/.test(v.replace(TEMPLATE, "x")),
    'a log stream name without ":" or "*", with {thing}, {device}, {date}',
  ).default("{thing}/metrics"),
  /** Wait after a period closed before sending, to batch. */
  flushInterval: ms().default(1000),
  backoff: z.strictObject({ min: ms().default(1000), max: ms().default(300_000) }).prefault({}),
  requestTimeout: ms().min(100).default(15_000),
  /** After a crash or an unanswered request, wait this long before asking whether the batch arrived. */
  confirmDelay: ms().default(10_000),
  /**
   * OS series. CPU, load, memory, uptime and disk usage come through Deno's
   * system APIs (`--allow-sys`); disk I/O, network and temperature exist only
   * as /proc and /sys files, which Deno 2 reads only with `--allow-all`
   * (never asked for): off by default, switched off with a note when refused.
   */
  os: z.strictObject({
    enabled: flag(true),
    cpu: flag(true),
    perCore: flag(false),
    load: flag(true),
    memory: flag(true),
    disk: z.strictObject({
      enabled: flag(true),
      /** More paths whose file system is measured (the state and config directories always are). */
      paths: z.array(z.string().min(1)).default([]),
    }).prefault({}),
    /**
     * A directory holding read-only bind mounts of /proc and /sys (systemd
     * `BindReadOnlyPaths=/proc:/run/tern/os/proc /sys:/run/tern/os/sys`): the
     * file groups read `<filesRoot>/proc/…` and `<filesRoot>/sys/…`, which Deno
     * grants with --allow-read of this directory.
     */
    filesRoot: z.string().min(1).refine((v) => v.startsWith("/"), "an absolute path").optional(),
    diskIo: flag(false),
    network: flag(false),
    temperature: flag(false),
    uptime: flag(true),
  }).prefault({}),
  /** The agent's own series (web, MQTT, sync, spool, restarts, memory, event-loop lag). */
  agent: z.strictObject({ enabled: flag(true) }).prefault({}),
  /** The application API and `POST /api/metrics`. */
  app: z.strictObject({
    enabled: flag(true),
    /** Most distinct (name, dimensions) series. */
    maxSeries: z.number().int().min(1).max(100_000).default(1000),
  }).prefault({}),
}).prefault({});

export type CloudMetricsConfig = z.infer<typeof metricsSection>;

/** The PutMetricData endpoint: the configured URL, else `https://monitoring.REGION.amazonaws.com`. */
export function metricsEndpoint(
  m: CloudMetricsConfig,
  awsRegion: string | undefined,
): URL | undefined {
  if (m.endpoint) return new URL(m.endpoint);
  const region = m.region ?? awsRegion;
  return region ? new URL(`https://monitoring.${region}.amazonaws.com`) : undefined;
}

/** Hosts and paths `cloud.metrics` needs (`logsUrl`: the CloudWatch Logs endpoint, for EMF). */
export function metricsPermissions(
  m: CloudMetricsConfig,
  awsRegion: string | undefined,
  logsUrl: URL | undefined,
  base: PathBase,
): Partial<PermissionNeeds> {
  if (!m.enabled) return {};
  const url = m.via === "emf" ? logsUrl : metricsEndpoint(m, awsRegion);
  const net = url
    ? [`${url.hostname}:${url.port || (url.protocol === "http:" ? "80" : "443")}`]
    : [];
  const read: string[] = [];
  const sys: string[] = [];
  const os = m.os;
  if (os.enabled) {
    if (os.cpu) sys.push("cpus");
    if (os.load) sys.push("loadavg");
    if (os.memory) sys.push("systemMemoryInfo");
    if (os.uptime) sys.push("osUptime");
    if (os.disk.enabled) {
      sys.push("statfs");
      read.push(...os.disk.paths.map((p) => resolve(base.configDir, p)));
    }
    // diskIo, network, temperature: /proc and /sys files, which Deno grants only with --allow-all,
    // or through bind mounts under filesRoot.
    if (os.filesRoot && (os.diskIo || os.network || os.temperature)) read.push(os.filesRoot);
  }
  return { net, read, sys };
}
