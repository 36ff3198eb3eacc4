/**
 * The `cloud` section: the spool's bounds and CloudWatch Logs (see
 * docs/cloud-logs.md). Later cloud streams (metrics, audit, uploads) add
 * their keys beside `logs`.
 *
 * ```json5
 * cloud: {
 *   spool: { maxRecords: 100000, maxBytes: 67108864 },          // per stream
 *   logs: {
 *     enabled: true, group: "/tern/{thing}", retentionDays: 30,
 *     agent: { level: "info", stream: "{thing}/agent" },
 *     app: { stream: "{thing}/app/{name}" },
 *     files: [{ path: "/var/log/myapp/*.log", stream: "{thing}/{file}", multiline: "^\\d{4}-" }],
 *     journal: { enabled: true, units: ["myapp.service"] },
 *     // emulators only: endpoint: "http://127.0.0.1:5000"
 *   },
 * }
 * ```
 *
 * Templates in group and stream names: `{thing}` (device.thing, else the
 * device id), `{device}` (the device id), `{date}` (the event's UTC day,
 * YYYY-MM-DD), `{name}` (app streams: the name given to `write`), `{file}`
 * (file sources: the file's base name). Units: ms and bytes.
 */

import * as z from "../validate/mod.ts";
import { LEVELS } from "../log/mod.ts";
import { dirname, resolve } from "../path.ts";
import { bytes, ms, type PathBase, type PermissionNeeds } from "./_types.ts";
import { shadowSection } from "./_shadow.ts";
import { metricsPermissions, metricsSection } from "./_cloud_metrics.ts";
import { s3Permissions, s3Section } from "./_cloud_s3.ts";

/** The retention periods CloudWatch Logs accepts (PutRetentionPolicy), in days. */
export const RETENTION_DAYS = [
  1,
  3,
  5,
  7,
  14,
  30,
  60,
  90,
  120,
  150,
  180,
  365,
  400,
  545,
  731,
  1096,
  1827,
  2192,
  2557,
  2922,
  3288,
  3653,
] as const;

const PLACEHOLDER = /\{(thing|device|date|name|file)\}/g;

/** A group name template: after the placeholders, CloudWatch's `[.\-_/#A-Za-z0-9]{1,512}`. */
const groupTemplate = z.string().min(1).max(512).refine(
  (v) => /^[.\-_/#A-Za-z0-9]+$/.test(v.replace(PLACEHOLDER, "x")),
  "a log group name: letters, digits and . - _ / #, with {thing}, {device}, {date}",
);

/** A stream name template: no ":" or "*" (CloudWatch's rule), 1 to 512 characters. */
const streamTemplate = z.string().min(1).max(512).refine(
  (v) => !/[:*]/.test(v.replace(PLACEHOLDER, "x")) && !/\{[^}]*\}/.test(v.replace(PLACEHOLDER, "")),
  'a log stream name without ":" or "*", with {thing}, {device}, {date}, {name}, {file}',
);

const level = z.enum(LEVELS);

const fileSource = z.strictObject({
  /** File path or glob (`*`, `?` in the last segment only), absolute or relative to the config dir. */
  path: z.string().min(1).refine(
    (v) => !/[*?[]/.test(dirname(v)),
    "a path with wildcards in the file name only",
  ),
  /** Group. @default logs.group */
  group: groupTemplate.optional(),
  stream: streamTemplate.default("{thing}/{file}"),
  /** A regular expression matching the first line of an event; other lines join the previous one. */
  multiline: z.string().min(1).refine((v) => {
    try {
      new RegExp(v);
      return true;
    } catch {
      return false;
    }
  }, "a valid regular expression").optional(),
  /**
   * How often the files are looked at, ms; what one look finds is stored in
   * one commit. At 1 s (Vector's default) rather than 250 ms the agent spent
   * 0.71–0.82 of the CPU per line in the logs benchmark, with a quarter of
   * the commits (the flash writes).
   */
  poll: ms().min(50).default(1000),
  /** Upload a last line without its newline (or a pending multiline event) after this long unchanged. */
  linger: ms().default(5000),
  /** Where to start in a file seen for the first time. */
  startAt: z.enum(["beginning", "end"]).default("beginning"),
});

export const cloudSection = z.strictObject({
  /** Bounds of every spool stream: when one is full its oldest records are dropped (counted, logged). */
  spool: z.strictObject({
    maxRecords: z.number().int().min(100).max(10_000_000).default(100_000),
    maxBytes: bytes().min(1024 * 1024).default(64 * 1024 * 1024),
  }).prefault({}),
  logs: z.strictObject({
    enabled: z.boolean().default(false),
    /** Region. @default aws.region */
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'a region like "eu-west-1"').optional(),
    /** An endpoint URL instead of `https://logs.REGION.amazonaws.com` (emulators). */
    endpoint: z.url().optional(),
    /** Default group of every source. */
    group: groupTemplate.default("/tern/{thing}"),
    /** Retention set on groups the agent creates; omit to keep CloudWatch's default (never expire). */
    retentionDays: z.union(RETENTION_DAYS.map((d) => z.literal(d))).optional(),
    /** Send a batch this long after its first record at the latest. */
    flushInterval: ms().min(10).default(5000),
    /** Most events and bytes per PutLogEvents (AWS allows 10,000 and 1,048,576). */
    maxEvents: z.number().int().min(1).max(10_000).default(10_000),
    maxBatchBytes: bytes().min(1024).max(1_048_576).default(1_048_576),
    /** Retry delays: full jitter between 0 and min·2^attempt, capped at max. */
    backoff: z.strictObject({
      min: ms().default(1000),
      max: ms().default(300_000),
    }).prefault({}),
    /** Timeout of one request. */
    requestTimeout: ms().min(100).default(15_000),
    /**
     * After a crash or a timed-out request, wait this long after the batch
     * was sent before asking CloudWatch (GetLogEvents) whether it arrived.
     */
    confirmDelay: ms().default(10_000),
    /** The agent's own log. */
    agent: z.strictObject({
      enabled: z.boolean().default(true),
      /** Lowest level sent (on top of log.level). */
      level: level.default("info"),
      /** Per-source levels by source prefix, like log.sources. */
      sources: z.record(z.string().min(1), level).default({}),
      group: groupTemplate.optional(),
      stream: streamTemplate.default("{thing}/agent"),
    }).prefault({}),
    /** The device application's `cloud.logs.write(name, message)`. */
    app: z.strictObject({
      enabled: z.boolean().default(true),
      group: groupTemplate.optional(),
      stream: streamTemplate.default("{thing}/app/{name}"),
    }).prefault({}),
    /** Files to follow. */
    files: z.array(fileSource).default([]),
    /** The systemd journal, through `journalctl --output=json --follow`. */
    journal: z.strictObject({
      enabled: z.boolean().default(false),
      group: groupTemplate.optional(),
      stream: streamTemplate.default("{thing}/journal"),
      /** Only these units (`journalctl --unit`); empty: everything. */
      units: z.array(z.string().regex(/^[\w@.:\\-]+$/, "a unit name")).default([]),
      /** Read a journal directory or file instead of the system journal (`--directory`/`--file`). */
      directory: z.string().min(1).optional(),
      file: z.string().min(1).optional(),
      /** Where to start the first time: "now" or the whole journal ("beginning"). */
      startAt: z.enum(["now", "beginning"]).default("now"),
      /** The program. */
      command: z.string().min(1).default("journalctl"),
    }).prefault({}),
  }).prefault({}),
  /** CloudWatch metrics (lib/config/_cloud_metrics.ts). */
  metrics: metricsSection,
  /** AWS IoT Device Shadows over MQTT (lib/config/_shadow.ts, docs/shadows.md). */
  shadow: shadowSection,
  /** S3 uploads (lib/config/_cloud_s3.ts, docs/s3.md). */
  s3: s3Section,
}).prefault({});

export type CloudConfig = z.infer<typeof cloudSection>;
export type CloudLogsConfig = CloudConfig["logs"];
export type LogFileSource = CloudLogsConfig["files"][number];

/** The CloudWatch Logs endpoint: the configured URL, else `https://logs.REGION.amazonaws.com`. */
export function logsEndpoint(
  logs: CloudLogsConfig,
  awsRegion: string | undefined,
): URL | undefined {
  if (logs.endpoint) return new URL(logs.endpoint);
  const region = logs.region ?? awsRegion;
  return region ? new URL(`https://logs.${region}.amazonaws.com`) : undefined;
}

export function cloudPermissions(
  cloud: CloudConfig,
  awsRegion: string | undefined,
  base: PathBase,
): Partial<PermissionNeeds> {
  const own = _logsAndMetricsPermissions(cloud, awsRegion, base);
  const s3 = s3Permissions(cloud.s3, awsRegion, base);
  return {
    ...own,
    net: [...(own.net ?? []), ...(s3.net ?? [])],
    read: [...(own.read ?? []), ...(s3.read ?? [])],
    write: [...(own.write ?? []), ...(s3.write ?? [])],
  };
}

function _logsAndMetricsPermissions(
  cloud: CloudConfig,
  awsRegion: string | undefined,
  base: PathBase,
): Partial<PermissionNeeds> {
  const logs = cloud.logs;
  const metrics = metricsPermissions(
    cloud.metrics,
    awsRegion,
    logsEndpoint(logs, awsRegion),
    base,
  );
  if (!logs.enabled) return metrics;
  const net: string[] = [...(metrics.net ?? [])];
  const url = logsEndpoint(logs, awsRegion);
  if (url) net.push(`${url.hostname}:${url.port || (url.protocol === "http:" ? "80" : "443")}`);
  // A followed file's directory: the glob is listed, and rotated files are found beside it.
  const read = [
    ...(metrics.read ?? []),
    ...logs.files.map((f) => dirname(resolve(base.configDir, f.path))),
  ];
  const run = logs.journal.enabled ? [logs.journal.command] : [];
  return { net, read, run, sys: metrics.sys ?? [] };
}
