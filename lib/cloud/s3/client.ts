/**
 * A small S3 REST client over our SigV4 signer (`lib/aws`) and `lib/http`:
 * the six calls uploads need — PutObject, CreateMultipartUpload, UploadPart,
 * CompleteMultipartUpload, AbortMultipartUpload, ListParts — plus
 * ListMultipartUploads for cleaning up abandoned uploads. The official
 * `@aws-sdk/client-s3` costs the agent about +25 MB of idle RSS
 * (docs/dependencies.md); these calls are a few lines each.
 *
 * Bodies are bytes (a part is read from disk into a buffer, hashed once for
 * the signature and `x-amz-checksum-sha256`, and sent with a Content-Length:
 * S3 refuses chunked bodies without aws-chunked encoding). Every request
 * goes through one transport (`_transport.ts`: node:http(s) with the HTTP
 * client's proxy and TLS settings), so small and large requests, signed and
 * presigned, take the same route. Errors are
 * `S3Error`s with S3's error code (`NoSuchBucket`, `SlowDown`…), the HTTP
 * status and whether retrying can help.
 *
 * Addressing: path style (`{endpoint}/{bucket}/{key}`) when an endpoint is
 * given (emulators, S3-compatible stores), else virtual-hosted
 * `https://{bucket}.s3.{region}.amazonaws.com/{key}`.
 */

import { type AwsCredentialProvider, signRequest, uriEncode } from "../../aws/mod.ts";
import { HttpClient } from "../../http/mod.ts";
import { createHash } from "node:crypto";
import { type BodyPacer, Transport, TransportError } from "./_transport.ts";

/** An S3 call that failed. */
export class S3Error extends Error {
  override name = "S3Error";
  /** S3's error code (`AccessDenied`, `SlowDown`…), or `NetworkError`, `Timeout`, `HTTP_<status>`. */
  readonly code: string;
  /** HTTP status; 0 when no response arrived. */
  readonly status: number;
  /** Whether trying again later can succeed (network errors, 5xx, SlowDown, throttling). */
  readonly retryable: boolean;
  constructor(code: string, status: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.status = status;
    this.retryable = code !== "NotImplemented" &&
      (status === 0 || status >= 500 || status === 429 || RETRY_CODES.has(code));
  }
}

const RETRY_CODES = new Set([
  "SlowDown",
  "RequestTimeout",
  "RequestTimeTooSkewed",
  "InternalError",
  "ServiceUnavailable",
  "Throttling",
  "ThrottlingException",
  "ExpiredToken",
]);

/** A part S3 holds. */
export interface ListedPart {
  partNumber: number;
  etag: string;
  size: number;
}

/**
 * What a presigner is asked (presigned mode: the device holds no S3
 * credentials): one S3 request without its body. It answers a URL to send
 * the request to (x-amz-* headers signed into its query) and the headers to
 * send with it.
 */
export interface PresignRequest {
  method: string;
  bucket: string;
  key?: string;
  /** The operation's query parameters (`uploads`, `uploadId`, `partNumber`…). */
  query: Record<string, string>;
  /** Headers the request carries: content-type, x-amz-meta-*, x-amz-checksum-*. */
  headers: Record<string, string>;
}

/** Presigned mode: get a URL for one request (from the cloud, over MQTT). */
export type Presigner = (req: PresignRequest, signal?: AbortSignal) => Promise<{
  url: string;
  headers?: Record<string, string>;
}>;

/** Options of {@linkcode S3Client}. */
export interface S3ClientOptions {
  region: string;
  /** Not used when `presign` is given. */
  credentials: AwsCredentialProvider;
  /** Presigned mode: every request goes to a URL this returns, unsigned by the device. */
  presign?: Presigner;
  /** Path-style endpoint instead of AWS's (emulators). */
  endpoint?: string;
  /**
   * Whose settings every request follows: proxy (`http.proxy` / the
   * environment) and TLS (extra CA, client certificate). The requests
   * themselves go through `_transport.ts`. @default a client with the
   * environment's proxy and the system CAs
   */
  http?: HttpClient;
  /** Timeout of one request, ms. @default 60000 */
  requestTimeout?: number;
}

/** What one request takes. */
interface Call {
  method: string;
  bucket: string;
  key?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Hex SHA-256 of the body when already known. */
  sha256?: string;
  /** The bandwidth cap: awaited before each chunk of the body. */
  pace?: BodyPacer;
  signal?: AbortSignal;
}

function _tag(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  return m ? _unxml(m[1]!) : undefined;
}

function _all(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, "g"))].map((m) => m[1]!);
}

function _unxml(s: string): string {
  return s.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function _xml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

/**
 * Hex and base64 SHA-256 of `bytes`, through node:crypto: WebCrypto's
 * digest copies its input, and for 8 MiB parts those copies held +20 MB of
 * RSS until collected (measured, Deno 2.9.6).
 */
export function sha256(bytes: Uint8Array): Promise<{ hex: string; b64: string }> {
  const d = createHash("sha256").update(bytes).digest();
  return Promise.resolve({ hex: d.toString("hex"), b64: d.toString("base64") });
}

/** The S3 client. */
export class S3Client {
  readonly region: string;
  readonly endpoint: string | undefined;
  readonly #creds: AwsCredentialProvider;
  readonly #http: HttpClient;
  readonly #ownHttp: boolean;
  readonly #timeout: number;
  readonly #presign: Presigner | undefined;
  readonly #transport: Transport;

  constructor(options: S3ClientOptions) {
    this.region = options.region;
    this.endpoint = options.endpoint?.replace(/\/$/, "");
    this.#creds = options.credentials;
    this.#ownHttp = !options.http;
    this.#http = options.http ?? new HttpClient({ retries: 0 });
    this.#timeout = options.requestTimeout ?? 60_000;
    this.#presign = options.presign;
    const http = this.#http;
    this.#transport = new Transport({ proxyFor: (u) => http.proxyFor(u), tls: http.tls });
  }

  /** Requests sent through a proxy so far. */
  get proxied(): number {
    return this.#transport.proxied;
  }

  /** The URL of `key` in `bucket` (no query). */
  objectUrl(bucket: string, key?: string): string {
    const path = key === undefined ? "" : `/${key.split("/").map(uriEncode).join("/")}`;
    return this.endpoint
      ? `${this.endpoint}/${bucket}${path}`
      : `https://${bucket}.s3.${this.region}.amazonaws.com${path || "/"}`;
  }

  async #call(c: Call): Promise<{ res: Response; text: string }> {
    const signed = await this.#sign(c);
    let r;
    try {
      r = await this.#transport.send({
        url: signed.url,
        method: c.method,
        headers: signed.headers,
        timeoutMs: this.#timeout,
        ...(c.body ? { body: c.body } : {}),
        ...(c.pace ? { pace: c.pace } : {}),
        ...(c.signal ? { signal: c.signal } : {}),
      });
    } catch (e) {
      if (c.signal?.aborted) throw e;
      const code = e instanceof TransportError ? e.code : "NetworkError";
      throw new S3Error(
        code,
        0,
        `S3 ${c.method} ${c.bucket}/${c.key ?? ""}: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
    if (r.status < 200 || r.status >= 300) {
      const code = _tag(r.text, "Code") ?? `HTTP_${r.status}`;
      const msg = _tag(r.text, "Message") ?? "";
      throw new S3Error(
        code,
        r.status,
        `S3 ${c.method} ${c.bucket}/${c.key ?? ""}: ${code}: ${msg}`,
      );
    }
    return { res: new Response(null, { status: r.status, headers: r.headers }), text: r.text };
  }

  /** The URL and headers of a call: signed here, or presigned by the cloud. */
  async #sign(c: Call): Promise<{ url: string; headers: Headers }> {
    if (this.#presign) {
      let p;
      try {
        p = await this.#presign({
          method: c.method,
          bucket: c.bucket,
          ...(c.key !== undefined ? { key: c.key } : {}),
          query: c.query ?? {},
          headers: c.headers ?? {},
        }, c.signal);
      } catch (e) {
        if (e instanceof S3Error || c.signal?.aborted) throw e;
        throw new S3Error("PresignUnavailable", 0, `No presigned URL: ${(e as Error).message}`, {
          cause: e,
        });
      }
      const headers = new Headers(p.headers ?? {});
      for (const [k, v] of Object.entries(c.headers ?? {})) {
        if (!k.startsWith("x-amz-") && !headers.has(k)) headers.set(k, v);
      }
      return { url: p.url, headers };
    }
    let url = this.objectUrl(c.bucket, c.key);
    const q = Object.entries(c.query ?? {});
    if (q.length) url += "?" + q.map(([k, v]) => v === "" ? k : `${k}=${uriEncode(v)}`).join("&");
    const signed = await signRequest(
      { method: c.method, url, headers: c.headers ?? {}, body: c.body ?? null },
      {
        credentials: await this.#creds(),
        region: this.region,
        service: "s3",
        ...(c.sha256 ? { payloadHash: c.sha256 } : {}),
      },
    );
    return { url: signed.url, headers: signed.headers };
  }

  /** Upload one object in one request. Returns its ETag. */
  async putObject(o: {
    bucket: string;
    key: string;
    body: Uint8Array;
    headers?: Record<string, string>;
    pace?: BodyPacer;
    signal?: AbortSignal;
  }): Promise<string> {
    const h = await sha256(o.body);
    const { res } = await this.#call({
      method: "PUT",
      bucket: o.bucket,
      key: o.key,
      body: o.body,
      sha256: h.hex,
      headers: { ...o.headers, "x-amz-checksum-sha256": h.b64 },
      ...(o.pace ? { pace: o.pace } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    return res.headers.get("etag") ?? "";
  }

  /** Start a multipart upload (SHA-256 part checksums). Returns its upload id. */
  async createMultipartUpload(o: {
    bucket: string;
    key: string;
    headers?: Record<string, string>;
    signal?: AbortSignal;
  }): Promise<string> {
    const { text } = await this.#call({
      method: "POST",
      bucket: o.bucket,
      key: o.key,
      query: { uploads: "" },
      headers: { ...o.headers, "x-amz-checksum-algorithm": "SHA256" },
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const id = _tag(text, "UploadId");
    if (!id) throw new S3Error("BadResponse", 200, "CreateMultipartUpload answered no UploadId");
    return id;
  }

  /** Upload one part; `sha` is the part's SHA-256. Returns its ETag. */
  async uploadPart(o: {
    bucket: string;
    key: string;
    uploadId: string;
    partNumber: number;
    body: Uint8Array;
    sha: { hex: string; b64: string };
    pace?: BodyPacer;
    signal?: AbortSignal;
  }): Promise<string> {
    const { res } = await this.#call({
      method: "PUT",
      bucket: o.bucket,
      key: o.key,
      query: { partNumber: String(o.partNumber), uploadId: o.uploadId },
      body: o.body,
      sha256: o.sha.hex,
      headers: { "x-amz-checksum-sha256": o.sha.b64 },
      ...(o.pace ? { pace: o.pace } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const etag = res.headers.get("etag");
    if (!etag) throw new S3Error("BadResponse", res.status, "UploadPart answered no ETag");
    return etag;
  }

  /** Every part S3 holds for an upload (all pages). */
  async listParts(o: { bucket: string; key: string; uploadId: string; signal?: AbortSignal }) {
    const out: ListedPart[] = [];
    let marker = "";
    for (;;) {
      const query: Record<string, string> = { uploadId: o.uploadId, "max-parts": "1000" };
      if (marker) query["part-number-marker"] = marker;
      const { text } = await this.#call({
        method: "GET",
        bucket: o.bucket,
        key: o.key,
        query,
        ...(o.signal ? { signal: o.signal } : {}),
      });
      for (const p of _all(text, "Part")) {
        out.push({
          partNumber: Number(_tag(p, "PartNumber")),
          etag: _tag(p, "ETag") ?? "",
          size: Number(_tag(p, "Size")),
        });
      }
      const next = _tag(text, "NextPartNumberMarker");
      if (_tag(text, "IsTruncated") !== "true" || !next || next === marker) return out;
      marker = next;
    }
  }

  /** Finish a multipart upload from its parts, in part-number order. Returns the ETag. */
  async completeMultipartUpload(o: {
    bucket: string;
    key: string;
    uploadId: string;
    parts: { partNumber: number; etag: string; sha256?: string }[];
    signal?: AbortSignal;
  }): Promise<string> {
    const parts = [...o.parts].sort((a, b) => a.partNumber - b.partNumber).map((p) =>
      `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${_xml(p.etag)}</ETag>` +
      (p.sha256 ? `<ChecksumSHA256>${p.sha256}</ChecksumSHA256>` : "") + "</Part>"
    );
    const body = new TextEncoder().encode(
      `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${
        parts.join("")
      }</CompleteMultipartUpload>`,
    );
    const { text } = await this.#call({
      method: "POST",
      bucket: o.bucket,
      key: o.key,
      query: { uploadId: o.uploadId },
      body,
      headers: { "content-type": "application/xml" },
      ...(o.signal ? { signal: o.signal } : {}),
    });
    // S3 may answer 200 with an <Error> body after a long complete.
    const code = _tag(text, "Code");
    if (/<Error>/.test(text) && code) {
      throw new S3Error(code, 200, `CompleteMultipartUpload: ${code}: ${_tag(text, "Message")}`);
    }
    return _tag(text, "ETag") ?? "";
  }

  /** Abort a multipart upload (its parts are deleted). A missing upload is not an error. */
  async abortMultipartUpload(
    o: { bucket: string; key: string; uploadId: string; signal?: AbortSignal },
  ): Promise<void> {
    try {
      await this.#call({
        method: "DELETE",
        bucket: o.bucket,
        key: o.key,
        query: { uploadId: o.uploadId },
        ...(o.signal ? { signal: o.signal } : {}),
      });
    } catch (e) {
      if (e instanceof S3Error && e.code === "NoSuchUpload") return;
      throw e;
    }
  }

  /** Multipart uploads in progress under `prefix` (all pages). */
  async listMultipartUploads(
    o: { bucket: string; prefix: string; signal?: AbortSignal },
  ): Promise<{ key: string; uploadId: string; initiated: number }[]> {
    const out: { key: string; uploadId: string; initiated: number }[] = [];
    let keyMarker = "";
    let idMarker = "";
    for (;;) {
      const query: Record<string, string> = { uploads: "", prefix: o.prefix };
      if (keyMarker) query["key-marker"] = keyMarker;
      if (idMarker) query["upload-id-marker"] = idMarker;
      const { text } = await this.#call({
        method: "GET",
        bucket: o.bucket,
        query,
        ...(o.signal ? { signal: o.signal } : {}),
      });
      for (const u of _all(text, "Upload")) {
        out.push({
          key: _tag(u, "Key") ?? "",
          uploadId: _tag(u, "UploadId") ?? "",
          initiated: Date.parse(_tag(u, "Initiated") ?? "") || 0,
        });
      }
      const nextKey = _tag(text, "NextKeyMarker") ?? "";
      const nextId = _tag(text, "NextUploadIdMarker") ?? "";
      if (_tag(text, "IsTruncated") !== "true" || (nextKey === keyMarker && nextId === idMarker)) {
        return out;
      }
      keyMarker = nextKey;
      idMarker = nextId;
    }
  }

  close(): void {
    this.#transport.close();
    if (this.#ownHttp) this.#http.close();
  }
}
