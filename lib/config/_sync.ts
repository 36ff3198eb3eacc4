/**
 * The `sync` section: replication of the embedded database with DynamoDB
 * (see docs/sync.md). Which models replicate, and in which direction, is
 * said by each model in schema.json5 (`sync`, `table`); this section holds
 * the engine's settings.
 *
 * ```json5
 * sync: { enabled: true, table: "tern-data", downInterval: 60000,
 *         conflict: "lww", models: { Setting: { conflict: "cloud-wins" } },
 *         // emulators only: endpoint: "http://127.0.0.1:4567"
 *       }
 * ```
 *
 * Units: every duration in ms.
 */

import * as z from "../validate/mod.ts";
import { ms, type PathBase, type PermissionNeeds } from "./_types.ts";

/** How a conflict on a model synced "both" is resolved (see docs/sync.md). */
export const CONFLICT_POLICIES = ["lww", "device-wins", "cloud-wins"] as const;
export type ConflictPolicy = (typeof CONFLICT_POLICIES)[number];

export const syncSection = z.strictObject({
  enabled: z.boolean().default(false),
  /** Table of the models that name none. */
  table: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, "a DynamoDB table name").default("tern-data"),
  /** Global secondary index for down-sync: hash `_to`, range `updated`. */
  index: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, "an index name").default("tern-down"),
  /** Region of the table. @default aws.region */
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'a region like "eu-west-1"').optional(),
  /** An endpoint URL instead of DynamoDB's (emulators: dynalite, DynamoDB Local). */
  endpoint: z.url().optional(),
  /** Wait after a local change before sending, to batch changes together. */
  upDelay: ms().default(1000),
  /** Check the change log at least this often, even without a change notification. */
  upInterval: ms().min(1000).default(60_000),
  /** Poll the cloud for changes this often (and at once on an MQTT notification). */
  downInterval: ms().min(1000).default(60_000),
  /** Change rows read per up pass. */
  readSize: z.number().int().min(1).max(10_000).default(10_000),
  /** Items per BatchWriteItem request (DynamoDB allows 25). */
  batchSize: z.number().int().min(1).max(25).default(25),
  /** Requests in flight at once. */
  concurrency: z.number().int().min(1).max(64).default(8),
  /** Items per down-sync Query page. */
  pageSize: z.number().int().min(1).max(1000).default(500),
  /** Retry delays: full jitter between 0 and min·2^attempt, capped at max. */
  backoff: z.strictObject({
    min: ms().default(1000),
    max: ms().default(300_000),
  }).prefault({}),
  /** Down-sync re-reads this far before its cursor, so clock skew never loses a change. */
  overlap: ms().default(300_000),
  /** Tombstones written for deletes expire (DynamoDB TTL attribute `_expires`) after this. */
  tombstoneTtl: ms().min(60_000).default(30 * 86_400_000),
  /** Warn when this many local changes wait to be sent. */
  backlogWarning: z.number().int().min(1).default(10_000),
  /** Conflict policy of models synced "both". */
  conflict: z.enum(CONFLICT_POLICIES).default("lww"),
  /** Per-model settings. */
  models: z.record(
    z.string(),
    z.strictObject({ conflict: z.enum(CONFLICT_POLICIES).optional() }),
  ).default({}),
  /** MQTT topic that triggers an immediate down-sync (needs mqtt.enabled); "" disables. */
  topic: z.string().default("tern/${thing}/sync"),
  /** Timeout of one DynamoDB request. */
  requestTimeout: ms().min(100).default(10_000),
}).prefault({});

export type SyncConfig = z.infer<typeof syncSection>;

/** The DynamoDB endpoint: the configured URL, else `https://dynamodb.REGION.amazonaws.com`. */
export function syncEndpoint(sync: SyncConfig, awsRegion: string | undefined): URL | undefined {
  if (sync.endpoint) return new URL(sync.endpoint);
  const region = sync.region ?? awsRegion;
  if (!region) return undefined;
  return new URL(`https://dynamodb.${region}.amazonaws.com`);
}

export function syncPermissions(
  sync: SyncConfig,
  awsRegion: string | undefined,
  _base: PathBase,
): Partial<PermissionNeeds> {
  if (!sync.enabled) return {};
  const url = syncEndpoint(sync, awsRegion);
  if (!url) return {};
  const port = url.port || (url.protocol === "http:" ? "80" : "443");
  return { net: [`${url.hostname}:${port}`] };
}
