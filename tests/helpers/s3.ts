/**
 * S3 peers for the upload tests, one interface for both emulators:
 *
 * - `startS3Moto()`: moto's S3 (multipart, ListParts, checksums) behind the
 *   SigV4-verifying test endpoint (moto accepts any signature), so every
 *   request the agent makes is checked for its signature; `direct` skips the
 *   check (the 1 GB test: the endpoint buffers bodies).
 * - `startS3rver()`: the npm `s3rver` emulator in process (no ListParts or
 *   ListMultipartUploads: the agent falls back to its stored ETags).
 *
 * Both count the UploadPart and PutObject requests they answered (`parts`,
 * by part number), can cut requests (`fault`) and read objects back.
 */

import S3rver from "s3rver";
import { freePort } from "../../deploy/free_port.ts";
import { signRequest } from "../../lib/aws/mod.ts";
import { type Config, configSchema } from "../../lib/config/mod.ts";
import { startAwsServer } from "./aws_sigv4_server.ts";
import { MOTO_CREDENTIALS, MOTO_KEYS, MOTO_REGION, startMoto } from "./moto.ts";

export const BUCKET = "tern-test";

export interface S3Peer extends AsyncDisposable {
  name: "moto" | "s3rver";
  /** What the agent's `cloud.s3.endpoint` is set to. */
  url: string;
  /** The keys the emulator accepts. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** UploadPart requests answered 2xx, by part number (PutObject counts as part 0). */
  parts: Map<number, number>;
  /** Return a Response to answer a request instead of the emulator (faults). */
  fault?: (req: Request, url: URL) => Response | undefined | Promise<Response | undefined>;
  /** The object's bytes, or undefined when it does not exist. */
  object(bucket: string, key: string): Promise<Uint8Array | undefined>;
  /** The object's body as a stream (large objects). */
  stream(bucket: string, key: string): Promise<ReadableStream<Uint8Array> | undefined>;
  /** The object's headers (HEAD). */
  head(bucket: string, key: string): Promise<Headers | undefined>;
  /** Multipart uploads in progress (moto only; s3rver: undefined). */
  uploads(bucket: string): Promise<string[] | undefined>;
}

const AUTH =
  `AWS4-HMAC-SHA256 Credential=${MOTO_CREDENTIALS.accessKeyId}/20260101/${MOTO_REGION}/s3/aws4_request, SignedHeaders=host, Signature=0`;

function _count(peer: S3Peer, url: URL, method: string, status: number) {
  if (status >= 300 || method !== "PUT") return;
  const n = url.searchParams.get("partNumber");
  const k = n === null ? 0 : Number(n);
  peer.parts.set(k, (peer.parts.get(k) ?? 0) + 1);
}

async function _get(base: string, bucket: string, key: string, method = "GET") {
  const path = key.split("/").map(encodeURIComponent).join("/");
  const signed = await signRequest({ method, url: `${base}/${bucket}/${path}` }, {
    credentials: MOTO_CREDENTIALS,
    region: MOTO_REGION,
    service: "s3",
  });
  const r = await fetch(signed.url, { method, headers: signed.headers });
  if (r.status === 404) {
    await r.body?.cancel();
    return undefined;
  }
  if (!r.ok) throw new Error(`${method} ${key}: ${r.status} ${await r.text()}`);
  return r;
}

/** moto's S3 with a bucket, behind the SigV4-verifying endpoint. */
export async function startS3Moto(): Promise<S3Peer & { direct: string }> {
  const moto = await startMoto();
  const r = await fetch(`${moto.url}/${BUCKET}`, {
    method: "PUT",
    headers: { authorization: AUTH },
    body:
      `<CreateBucketConfiguration><LocationConstraint>${MOTO_REGION}</LocationConstraint></CreateBucketConfiguration>`,
  });
  if (!r.ok) throw new Error(`CreateBucket: ${r.status} ${await r.text()}`);
  await r.body?.cancel();
  const peer: S3Peer & { direct: string } = {
    name: "moto",
    url: "",
    credentials: MOTO_CREDENTIALS,
    direct: moto.url,
    parts: new Map(),
    async object(bucket, key) {
      const res = await _get(moto.url, bucket, key);
      return res ? new Uint8Array(await res.arrayBuffer()) : undefined;
    },
    async head(bucket, key) {
      return (await _get(moto.url, bucket, key, "HEAD"))?.headers;
    },
    async stream(bucket, key) {
      return (await _get(moto.url, bucket, key))?.body ?? undefined;
    },
    async uploads(bucket) {
      const res = await fetch(`${moto.url}/${bucket}?uploads`, {
        headers: { authorization: AUTH },
      });
      const text = await res.text();
      return [...text.matchAll(/<UploadId>([^<]+)<\/UploadId>/g)].map((m) => m[1]!);
    },
    async [Symbol.asyncDispose]() {
      await server[Symbol.asyncDispose]();
      await moto[Symbol.asyncDispose]();
    },
  };
  const server = await startAwsServer({
    keys: MOTO_KEYS,
    region: MOTO_REGION,
    service: "s3",
    handler: async (req) => {
      const raw = new Request(req.url, { method: req.method, headers: req.headers });
      const own = await peer.fault?.(raw, req.url);
      if (own) return own;
      const headers = new Headers();
      for (const [k, v] of req.headers) {
        if (k.startsWith("x-amz-") || k === "authorization" || k === "content-type") {
          headers.set(k, v);
        }
      }
      const res = await fetch(`${moto.url}${req.url.pathname}${req.url.search}`, {
        method: req.method,
        headers,
        body: req.body.length ? req.body as Uint8Array<ArrayBuffer> : null,
      });
      _count(peer, req.url, req.method, res.status);
      const out = new Headers();
      for (const h of ["etag", "content-type"]) {
        const v = res.headers.get(h);
        if (v !== null) out.set(h, v);
      }
      for (const [k, v] of res.headers) if (k.startsWith("x-amz-")) out.set(k, v);
      const body = await res.arrayBuffer();
      const empty = req.method === "HEAD" || res.status === 204 || res.status === 304;
      return new Response(empty ? null : body, { status: res.status, headers: out });
    },
  });
  peer.url = server.url;
  return peer;
}

/** s3rver in this process with a bucket; a counting/fault proxy in front. */
export async function startS3rver(): Promise<S3Peer> {
  const dir = await Deno.makeTempDir({ prefix: "tern_s3rver_" });
  // s3rver checks signatures itself, against its one account: give it the test keys.
  const { DUMMY_ACCOUNT } = await import("npm:s3rver@3.7.1/lib/models/account.js");
  DUMMY_ACCOUNT.createKeyPair(MOTO_CREDENTIALS.accessKeyId, MOTO_CREDENTIALS.secretAccessKey);
  const s3rver = new S3rver({
    port: freePort(),
    address: "127.0.0.1",
    silent: true,
    directory: dir,
    configureBuckets: [{ name: BUCKET, configs: [] }],
  });
  const addr = await s3rver.run();
  const base = `http://127.0.0.1:${addr.port}`;
  const ac = new AbortController();
  // The front's own connection pool to s3rver, closed before s3rver: its idle keep-alive
  // connections would otherwise hold up s3rver's close for minutes.
  const pool = Deno.createHttpClient({});
  const peer: S3Peer = {
    name: "s3rver",
    url: "",
    credentials: MOTO_CREDENTIALS,
    parts: new Map(),
    async object(bucket, key) {
      const res = await _get(base, bucket, key);
      return res ? new Uint8Array(await res.arrayBuffer()) : undefined;
    },
    async head(bucket, key) {
      return (await _get(base, bucket, key, "HEAD"))?.headers;
    },
    async stream(bucket, key) {
      return (await _get(base, bucket, key))?.body ?? undefined;
    },
    uploads: () => Promise.resolve(undefined),
    async [Symbol.asyncDispose]() {
      ac.abort();
      await proxy.finished;
      pool.close();
      await s3rver.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  const proxy = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
    async (req) => {
      const url = new URL(req.url);
      const own = await peer.fault?.(req, url);
      if (own) return own;
      const body = req.body ? new Uint8Array(await req.arrayBuffer()) : null;
      const headers = new Headers(req.headers);
      headers.delete("host");
      const res = await fetch(`${base}${url.pathname}${url.search}`, {
        method: req.method,
        headers,
        body,
        client: pool,
      });
      _count(peer, url, req.method, res.status);
      const out = await res.arrayBuffer();
      const empty = req.method === "HEAD" || res.status === 204 || res.status === 304;
      return new Response(empty ? null : out, { status: res.status, headers: res.headers });
    },
  );
  peer.url = `http://127.0.0.1:${proxy.addr.port}`;
  return peer;
}

/** Both peers, for a suite that runs against each. */
export const PEERS = [
  { name: "moto", start: startS3Moto },
  { name: "s3rver", start: startS3rver },
] as const;

/** A cloud-mode config with `cloud.s3` on at `endpoint`, uploads allowed from `dir`; `top`: other sections (`http`). */
export function s3Config(
  endpoint: string,
  dir: string,
  s3: Record<string, unknown> = {},
  credentials: { accessKeyId: string; secretAccessKey: string } = MOTO_CREDENTIALS,
  top: Record<string, unknown> = {},
): Config {
  return configSchema.parse({
    ...top,
    agent: { mode: "cloud" },
    device: { id: "d1" },
    aws: { region: MOTO_REGION, credentials },
    cloud: {
      s3: {
        enabled: true,
        endpoint,
        bucket: BUCKET,
        directories: [dir],
        backoff: { min: 10, max: 200 },
        ...s3,
      },
    },
  });
}

/** Hex SHA-256 of bytes. */
export async function sha256Hex(b: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", b as Uint8Array<ArrayBuffer>));
  return [...d].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/** Write `size` bytes of a deterministic pattern (seeded) to `path`, 1 MiB at a time. */
export async function writePattern(path: string, size: number, seed = 1): Promise<void> {
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  const chunk = new Uint8Array(1024 * 1024);
  let x = seed >>> 0 || 1;
  for (let off = 0; off < size; off += chunk.length) {
    for (let i = 0; i < chunk.length; i += 4) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      chunk[i] = x & 255;
      chunk[i + 1] = (x >>> 8) & 255;
      chunk[i + 2] = (x >>> 16) & 255;
      chunk[i + 3] = (x >>> 24) & 255;
    }
    const n = Math.min(chunk.length, size - off);
    let w = 0;
    while (w < n) w += await f.write(chunk.subarray(w, n));
  }
  f.close();
}
