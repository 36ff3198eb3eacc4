/**
 * The `cloud.s3` section: durable, resumable uploads to S3 (see docs/s3.md).
 *
 * ```json5
 * cloud: { s3: {
 *   enabled: true,
 *   bucket: "acme-devices",                 // default bucket of `upload()`
 *   directories: ["/data/camera"],          // the only places files are read from
 *   watch: [{ path: "/data/camera", key: "{thing}/camera/{file}", deleteAfterUpload: true }],
 *   parallel: 2, partSize: 8388608, maxBandwidth: 0,
 *   // emulators only: endpoint: "http://127.0.0.1:5000"
 * } }
 * ```
 *
 * Units: ms, bytes, bytes per second.
 */

import * as z from "../validate/mod.ts";
import { resolve } from "../path.ts";
import { bytes, ms, type PathBase, type PermissionNeeds } from "./_types.ts";

const MiB = 1024 * 1024;

/** S3's bucket-name rule (3–63 lowercase letters, digits, dots and hyphens). */
export const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

const bucket = z.string().regex(BUCKET, "an S3 bucket name (3-63 of a-z 0-9 . -)");

const keyTemplate = z.string().min(1).max(1024).refine(
  (v) => !v.startsWith("/") && !/\{[^}]*\}/.test(v.replace(/\{(thing|device|file|date)\}/g, "")),
  "an object key without a leading / (placeholders {thing}, {device}, {file}, {date})",
);

const watchSource = z.strictObject({
  /** A directory (absolute or relative to the config dir); its regular files are uploaded. */
  path: z.string().min(1),
  /** Only names matching this regular expression. @default every file */
  pattern: z.string().min(1).refine((v) => {
    try {
      new RegExp(v);
      return true;
    } catch {
      return false;
    }
  }, "a valid regular expression").optional(),
  bucket: bucket.optional(),
  key: keyTemplate.default("{thing}/{file}"),
  /** A file is queued once unchanged (size and mtime) for this long. */
  settle: ms().min(100).default(2000),
  /** How often the directory is listed. */
  interval: ms().min(100).default(5000),
  deleteAfterUpload: z.boolean().default(false),
  contentType: z.string().min(1).max(256).optional(),
});

export const s3Section = z.strictObject({
  enabled: z.boolean().default(false),
  /** Region. @default aws.region */
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'a region like "eu-west-1"').optional(),
  /** A path-style endpoint instead of `https://{bucket}.s3.REGION.amazonaws.com` (emulators). */
  endpoint: z.url().optional(),
  /** Default bucket of `upload()` and of watched directories. */
  bucket: bucket.optional(),
  /** Directories files may be uploaded from (read permission is asked for these only). */
  directories: z.array(z.string().min(1)).default([]),
  /** Files up to this size go in one PutObject; larger ones as multipart uploads. */
  multipartThreshold: bytes().min(5 * MiB).max(5 * 1024 * MiB).default(8 * MiB),
  /** Smallest part size (raised for files over 10,000 parts). S3: 5 MiB to 5 GiB. */
  partSize: bytes().min(5 * MiB).max(5 * 1024 * MiB).default(5 * MiB),
  /** Parts of one upload sent at the same time. */
  parallel: z.number().int().min(1).max(16).default(2),
  /** Upload rate cap in bytes per second over all uploads; 0 = none. */
  maxBandwidth: bytes().default(0),
  /** Delete the local file after it reached S3 (also per upload). */
  deleteAfterUpload: z.boolean().default(false),
  /** Most parts of one upload: S3's 10,000, or lower for a store with a lower limit (Ceph RGW's rgw_multipart_part_upload_limit). */
  maxParts: z.number().int().min(1).max(10_000).default(10_000),
  /** A multipart upload older than this that no queued upload owns is abandoned: aborted. */
  abortAfter: ms().min(60_000).default(86_400_000),
  /** How often the buckets (`bucket`, the watches') are swept for abandoned multipart uploads; 0 = never. */
  sweepEvery: ms().default(3_600_000),
  /** Only multipart uploads under this key prefix are swept (placeholders {thing}, {device}; "" = the whole bucket). */
  sweepPrefix: z.string().max(1024).refine(
    (v) => !v.startsWith("/") && !/\{[^}]*\}/.test(v.replace(/\{(thing|device)\}/g, "")),
    "a key prefix without a leading / (placeholders {thing}, {device})",
  ).default("{thing}/"),
  /** Most uploads waiting. */
  maxQueued: z.number().int().min(1).max(1_000_000).default(10_000),
  /** Finished uploads (done, failed, canceled) kept for `list`. */
  keepFinished: z.number().int().min(0).max(10_000).default(100),
  backoff: z.strictObject({ min: ms().default(1000), max: ms().default(300_000) }).prefault({}),
  requestTimeout: ms().min(100).default(120_000),
  /** Devices without S3 credentials: ask the cloud for presigned URLs over MQTT. */
  presigned: z.strictObject({
    enabled: z.boolean().default(false),
    /** Request topic (`${thing}`, `${deviceId}`, as in MQTT topics); answers on the request's response topic. */
    topic: z.string().min(1).max(256).default("tern/${thing}/s3/presign"),
    timeout: ms().min(100).default(10_000),
  }).prefault({}),
  watch: z.array(watchSource).default([]),
}).prefault({});

export type S3Config = z.infer<typeof s3Section>;

/** The S3 endpoint host for permissions. */
function _host(s3: S3Config, awsRegion: string | undefined): string[] {
  if (s3.endpoint) {
    const u = new URL(s3.endpoint);
    return [`${u.hostname}:${u.port || (u.protocol === "http:" ? "80" : "443")}`];
  }
  const region = s3.region ?? awsRegion;
  if (!region) return [];
  // Virtual-hosted style: one host per bucket; `upload()` to another bucket needs its host too.
  const buckets = new Set([s3.bucket, ...s3.watch.map((w) => w.bucket)].filter(Boolean));
  return [...buckets].map((b) => `${b}.s3.${region}.amazonaws.com:443`);
}

/** Read of the upload directories only; write where files are deleted after upload. */
export function s3Permissions(
  s3: S3Config,
  awsRegion: string | undefined,
  base: PathBase,
): Partial<PermissionNeeds> {
  if (!s3.enabled) return {};
  const dirs = [...s3.directories, ...s3.watch.map((w) => w.path)].map((d) =>
    resolve(base.configDir, d)
  );
  const deleting = s3.deleteAfterUpload
    ? dirs
    : s3.watch.filter((w) => w.deleteAfterUpload).map((w) => resolve(base.configDir, w.path));
  return {
    // Presigned mode too: the URLs point at the same hosts.
    net: _host(s3, awsRegion),
    read: [...new Set(dirs)],
    write: [...new Set(deleting)],
  };
}
