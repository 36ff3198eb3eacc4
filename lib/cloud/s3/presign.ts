/**
 * Presigned mode, for devices that hold no S3 credentials: every S3 request
 * is presigned by the cloud. The device publishes an MQTT request (lib/mqtt
 * request/response) on `cloud.s3.presigned.topic` with a `PresignRequest`
 * as JSON:
 *
 * ```json
 * {"method": "PUT", "bucket": "acme", "key": "d1/cam/0001.jpg",
 *  "query": {"partNumber": "3", "uploadId": "…"},
 *  "headers": {"x-amz-checksum-sha256": "…"}}
 * ```
 *
 * and the cloud answers on the response topic with `{"url": "…",
 * "headers": {…}}` (a URL valid for a few minutes, `x-amz-*` headers signed
 * into its query) or `{"error": {"code": "AccessDenied", "message": "…"}}`.
 * Multipart works the same way: CreateMultipartUpload, each UploadPart,
 * ListParts, CompleteMultipartUpload and AbortMultipartUpload are each one
 * presigned request.
 *
 * `answerPresign` is that cloud-side handler (a Lambda behind an IoT rule,
 * or any MQTT client holding credentials): it checks the request against a
 * policy (the key must start with the device's prefix; only these
 * operations) and signs it with `lib/aws`'s `presignUrl`.
 */

import { type AwsCredentials, presignUrl, uriEncode } from "../../aws/mod.ts";
import type { MqttClient } from "../../mqtt/mod.ts";
import { type Presigner, type PresignRequest, S3Error } from "./client.ts";

/** A Presigner that asks the cloud over MQTT request/response. */
export function mqttPresigner(client: MqttClient, topic: string, timeout: number): Presigner {
  return async (req, signal) => {
    const msg = await client.request(topic, { ...req }, {
      timeout,
      qos: 1,
      ...(signal ? { signal } : {}),
    });
    const answer = msg.json<
      {
        url?: string;
        headers?: Record<string, string>;
        error?: { code?: string; message?: string };
      }
    >();
    if (answer.error || typeof answer.url !== "string") {
      const code = answer.error?.code ?? "PresignRefused";
      throw new S3Error(
        code,
        403,
        `Presigned URL refused: ${code}: ${answer.error?.message ?? "no url"}`,
      );
    }
    return { url: answer.url, ...(answer.headers ? { headers: answer.headers } : {}) };
  };
}

/** The operations a device may ask for: method and the query key that names it. */
const ALLOWED: [string, string | undefined][] = [
  ["PUT", undefined], // PutObject
  ["POST", "uploads"], // CreateMultipartUpload
  ["PUT", "uploadId"], // UploadPart
  ["GET", "uploadId"], // ListParts
  ["POST", "uploadId"], // CompleteMultipartUpload
  ["DELETE", "uploadId"], // AbortMultipartUpload
];

/** Options of {@linkcode answerPresign}. */
export interface AnswerPresignOptions {
  credentials: AwsCredentials;
  region: string;
  /** Path-style endpoint (emulators); else virtual-hosted AWS. */
  endpoint?: string;
  /** Buckets the device may write to. */
  buckets: string[];
  /** The key prefix this device may write under (e.g. `"{thing}/"` expanded). */
  keyPrefix: string;
  /** Seconds the URL is valid. @default 300 */
  expiresIn?: number;
}

/** The cloud side: check a device's request and answer a presigned URL (or an error). */
export async function answerPresign(
  req: PresignRequest,
  o: AnswerPresignOptions,
): Promise<
  { url: string; headers: Record<string, string> } | { error: { code: string; message: string } }
> {
  const deny = (message: string) => ({ error: { code: "AccessDenied", message } });
  if (typeof req !== "object" || req === null) return deny("Not a presign request");
  const query = req.query ?? {};
  const op = query.uploads !== undefined
    ? "uploads"
    : query.uploadId !== undefined
    ? "uploadId"
    : undefined;
  if (!ALLOWED.some(([m, q]) => m === req.method && q === op)) {
    return deny(`Operation ${req.method} ${op ?? "object"} is not allowed`);
  }
  if (!o.buckets.includes(req.bucket)) return deny(`Bucket "${req.bucket}" is not allowed`);
  if (typeof req.key !== "string" || !req.key.startsWith(o.keyPrefix) || req.key.includes("..")) {
    return deny(`Key must start with "${o.keyPrefix}"`);
  }
  const path = req.key.split("/").map(uriEncode).join("/");
  const base = o.endpoint
    ? `${o.endpoint.replace(/\/$/, "")}/${req.bucket}/${path}`
    : `https://${req.bucket}.s3.${o.region}.amazonaws.com/${path}`;
  const url = new URL(base);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers ?? {})) {
    if (k.startsWith("x-amz-") || k === "content-type") headers[k] = String(v);
  }
  const signed = await presignUrl({ method: req.method, url, headers }, {
    credentials: o.credentials,
    region: o.region,
    service: "s3",
    expiresIn: o.expiresIn ?? 300,
  });
  const out: Record<string, string> = {};
  signed.headers.forEach((v, k) => {
    if (k !== "host") out[k] = v;
  });
  return { url: signed.url, headers: out };
}
