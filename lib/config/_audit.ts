/**
 * The `audit` section: the tamper-evident audit trail (lib/db/audit.ts,
 * lib/cloud/audit/, docs/audit.md). Recording is on wherever the database
 * is; shipping to CloudTrail Lake and/or a CloudWatch Logs group is chosen
 * here (both may run).
 *
 * ```json5
 * audit: {
 *   retention: { maxEvents: 100000, maxAgeDays: 365 },
 *   cloudtrail: { enabled: true, channelArn: "arn:aws:cloudtrail:eu-west-1:123456789012:channel/…" },
 *   logs: { enabled: true, group: "/tern/audit", stream: "{thing}" },
 * }
 * ```
 *
 * Units: ms unless the name says otherwise.
 */

import * as z from "../validate/mod.ts";
import { bytes, ms, type PermissionNeeds } from "./_types.ts";

const region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'a region like "eu-west-1"');
const shipping = {
  /** Region. @default aws.region */
  region: region.optional(),
  /** An endpoint URL instead of AWS's (emulators, tests). */
  endpoint: z.url().optional(),
};

export const auditSection = z.strictObject({
  /** Record security events (needs the database). */
  enabled: z.boolean().default(true),
  /** Which data API models record their writes: also `audit: true` on a model in schema.json5. */
  models: z.array(z.string().min(1)).default([]),
  /**
   * Events kept on the device. Events not yet shipped are never pruned: they
   * are held (a warning) until shipped or dropped by the spool's bound.
   */
  retention: z.strictObject({
    maxEvents: z.number().int().min(100).max(10_000_000).default(100_000),
    maxAgeDays: z.number().int().min(1).max(3650).default(365),
  }).prefault({}),
  /** How often retention runs. */
  pruneInterval: ms().min(1000).default(3_600_000),
  /** Bound of each destination's spool stream (the one policy when full: oldest dropped, counted, logged). */
  spool: z.strictObject({
    maxRecords: z.number().int().min(100).max(10_000_000).default(100_000),
    maxBytes: bytes().min(1024 * 1024).default(64 * 1024 * 1024),
  }).prefault({}),
  /** CloudTrail Lake: PutAuditEvents into a channel (integration of type "ApplicationIntegration"). */
  cloudtrail: z.strictObject({
    enabled: z.boolean().default(false),
    channelArn: z.string().regex(
      /^arn:[\w-]+:cloudtrail:[a-z0-9-]+:\d{12}:channel\/[\w-]+$/,
      "a channel ARN",
    )
      .optional(),
    /** Sent as `externalId` when the channel's resource policy asks for one. */
    externalId: z.string().min(2).max(1224).regex(/^[\w+=,.@:\/-]*$/, "an external id").optional(),
    ...shipping,
    /** Most events per call (AWS allows 100 and 1 MB). */
    maxEvents: z.number().int().min(1).max(100).default(100),
  }).prefault({}),
  /** A CloudWatch Logs group of its own, through the logs sender. */
  logs: z.strictObject({
    enabled: z.boolean().default(false),
    group: z.string().min(1).max(512).regex(/^[.\-_/#A-Za-z0-9{}]+$/, "a log group name").default(
      "/tern/audit",
    ),
    stream: z.string().min(1).max(512).refine((v) => !/[:*]/.test(v), 'no ":" or "*"').default(
      "{thing}",
    ),
    /** Retention of the group when the agent creates it (days); omit for CloudWatch's default. */
    retentionDays: z.number().int().min(1).max(3653).optional(),
    ...shipping,
  }).prefault({}),
  /** Send this long after the first new event at the latest. */
  flushInterval: ms().min(10).default(2000),
  backoff: z.strictObject({ min: ms().default(1000), max: ms().default(300_000) }).prefault({}),
  requestTimeout: ms().min(100).default(15_000),
  /** After a crash or an unanswered request, wait this long before asking whether a batch arrived. */
  confirmDelay: ms().default(10_000),
}).superRefine((a, ctx) => {
  if (a.cloudtrail.enabled && !a.cloudtrail.channelArn) {
    ctx.addIssue({
      code: "custom",
      path: ["cloudtrail", "channelArn"],
      message: "audit.cloudtrail.enabled needs a channelArn",
    });
  }
}).prefault({});

export type AuditConfig = z.infer<typeof auditSection>;

/** The CloudTrail Data endpoint: the configured URL, else `https://cloudtrail-data.REGION.amazonaws.com`. */
export function cloudtrailEndpoint(a: AuditConfig, awsRegion: string | undefined): URL | undefined {
  if (a.cloudtrail.endpoint) return new URL(a.cloudtrail.endpoint);
  const r = a.cloudtrail.region ?? _arnRegion(a.cloudtrail.channelArn) ?? awsRegion;
  return r ? new URL(`https://cloudtrail-data.${r}.amazonaws.com`) : undefined;
}

/** The CloudWatch Logs endpoint of the audit group. */
export function auditLogsEndpoint(a: AuditConfig, awsRegion: string | undefined): URL | undefined {
  if (a.logs.endpoint) return new URL(a.logs.endpoint);
  const r = a.logs.region ?? awsRegion;
  return r ? new URL(`https://logs.${r}.amazonaws.com`) : undefined;
}

function _arnRegion(arn: string | undefined): string | undefined {
  return arn?.split(":")[3] || undefined;
}

/** Hosts the audit destinations need. */
export function auditPermissions(
  a: AuditConfig,
  awsRegion: string | undefined,
): Partial<PermissionNeeds> {
  const net: string[] = [];
  const add = (u: URL | undefined) => {
    if (u) net.push(`${u.hostname}:${u.port || (u.protocol === "http:" ? "80" : "443")}`);
  };
  if (!a.enabled) return { net };
  if (a.cloudtrail.enabled) add(cloudtrailEndpoint(a, awsRegion));
  if (a.logs.enabled) add(auditLogsEndpoint(a, awsRegion));
  return { net };
}
