/**
 * A local AWS-like endpoint for tests: a `Deno.serve` server on 127.0.0.1
 * (HTTPS when given a certificate) that verifies every request's SigV4
 * signature the way AWS does, independently of Tern's signer — it recomputes
 * the signature with the AWS SDK's `@smithy/signature-v4` from the bytes that
 * arrived — and answers failures like AWS (403 with
 * `{"__type": "InvalidSignatureException" | "UnrecognizedClientException", "message"}`).
 * Verified requests go to `handler`.
 *
 * ```ts
 * await using aws = await startAwsServer({
 *   keys: { AKIDEXAMPLE: "secret" }, region: "eu-west-1", service: "logs",
 *   handler: (r) => Response.json({}),
 * });
 * // aws.url, aws.requests (verified), aws.rejected (count)
 * ```
 */

import { createHash, createHmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";

/** The SDK's Checksum shape over node:crypto (the SDK ships no default). */
export class NodeSha256 {
  #h: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#h = secret === undefined ? createHash("sha256") : createHmac("sha256", _bytes(secret));
  }
  update(data: Uint8Array): void {
    this.#h.update(data);
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#h.digest()));
  }
}

function _bytes(data: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** A request whose signature checked out. */
export interface VerifiedRequest {
  method: string;
  url: URL;
  headers: Headers;
  body: Uint8Array;
  /** `X-Amz-Target`, when present. */
  target: string | null;
  accessKeyId: string;
  sessionToken: string | null;
  /** The body parsed as JSON, when it is JSON. */
  json: unknown;
}

/** Options of {@linkcode startAwsServer}. */
export interface AwsServerOptions {
  /** Known keys: accessKeyId → secretAccessKey. */
  keys: Record<string, string>;
  region: string;
  service: string;
  handler: (req: VerifiedRequest) => Response | Promise<Response>;
  /** Largest accepted difference between x-amz-date and now, in ms. @default 900000 */
  maxSkewMs?: number;
  /** Time source. @default Date.now */
  now?: () => number;
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: string; key: string };
}

export interface AwsServer extends AsyncDisposable {
  url: string;
  /** Verified requests, in order. */
  requests: VerifiedRequest[];
  /** Requests refused for their signature. */
  readonly rejected: number;
}

function _deny(type: string, message: string, nowMs = Date.now()): Response {
  return Response.json({ __type: type, message }, {
    status: 403,
    headers: { date: new Date(nowMs).toUTCString() },
  });
}

/** Start the server on 127.0.0.1 and a free port. */
export async function startAwsServer(options: AwsServerOptions): Promise<AwsServer> {
  const requests: VerifiedRequest[] = [];
  let rejected = 0;
  const now = options.now ?? Date.now;
  const handler = async (req: Request): Promise<Response> => {
    let body: Uint8Array;
    try {
      body = new Uint8Array(await req.arrayBuffer());
    } catch {
      // The client went away mid-body (a kill -9 test): nothing to verify or forward.
      return new Response(null, { status: 400 });
    }
    const url = new URL(req.url);
    const verdict = await _verify(req, url, body, options, now());
    if (verdict instanceof Response) {
      rejected++;
      return verdict;
    }
    let json: unknown;
    try {
      json = body.length ? JSON.parse(new TextDecoder().decode(body)) : undefined;
    } catch {
      json = undefined;
    }
    const v: VerifiedRequest = {
      method: req.method,
      url,
      headers: req.headers,
      body,
      target: req.headers.get("x-amz-target"),
      accessKeyId: verdict.accessKeyId,
      sessionToken: req.headers.get("x-amz-security-token") ??
        url.searchParams.get("X-Amz-Security-Token"),
      json,
    };
    requests.push(v);
    return await options.handler(v);
  };
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: (addr) => resolve(addr as Deno.NetAddr),
    ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}),
  }, handler);
  const addr = await listening;
  return {
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${addr.port}`,
    requests,
    get rejected() {
      return rejected;
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

async function _verify(
  req: Request,
  url: URL,
  body: Uint8Array,
  o: AwsServerOptions,
  nowMs: number,
): Promise<{ accessKeyId: string } | Response> {
  const auth = req.headers.get("authorization") ?? "";
  const m = auth.match(
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/,
  );
  if (!m) return _deny("IncompleteSignatureException", `Malformed Authorization: "${auth}"`);
  const [, accessKeyId, day, region, service, signedHeaders, sig] = m as unknown as string[];
  const secret = o.keys[accessKeyId!];
  if (!secret) {
    return _deny(
      "UnrecognizedClientException",
      "The security token included in the request is invalid.",
    );
  }
  if (region !== o.region || service !== o.service) {
    return _deny(
      "InvalidSignatureException",
      `Credential should be scoped to ${o.region}/${o.service}`,
    );
  }
  const amzDate = req.headers.get("x-amz-date") ?? "";
  const dm = amzDate.match(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/);
  if (!dm || amzDate.slice(0, 8) !== day) {
    return _deny("IncompleteSignatureException", `Bad X-Amz-Date "${amzDate}"`);
  }
  const date = new Date(Date.UTC(+dm[1]!, +dm[2]! - 1, +dm[3]!, +dm[4]!, +dm[5]!, +dm[6]!));
  if (Math.abs(date.getTime() - nowMs) > (o.maxSkewMs ?? 900_000)) {
    return _deny(
      "InvalidSignatureException",
      `Signature expired: ${amzDate} is more than ${
        o.maxSkewMs ?? 900_000
      } ms from the server time`,
      nowMs,
    );
  }
  const headers: Record<string, string> = {};
  for (const name of signedHeaders!.split(";")) {
    const value = req.headers.get(name);
    if (value === null) {
      return _deny("InvalidSignatureException", `Signed header "${name}" missing`);
    }
    headers[name] = value;
  }
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    const prev = query[k];
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  const sessionToken = req.headers.get("x-amz-security-token");
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: accessKeyId!,
      secretAccessKey: secret,
      ...(sessionToken ? { sessionToken } : {}),
    },
    region: region!,
    service: service!,
    sha256: NodeSha256,
    uriEscapePath: service !== "s3",
    applyChecksum: false,
  });
  const expected = await signer.sign({
    method: req.method,
    protocol: url.protocol,
    hostname: url.hostname,
    path: url.pathname,
    query,
    headers,
    body,
  }, { signingDate: date });
  const want = String(expected.headers["authorization"] ?? "").match(/Signature=([0-9a-f]{64})/)
    ?.[1];
  if (want !== sig) {
    return _deny(
      "InvalidSignatureException",
      "The request signature we calculated does not match the signature you provided.",
    );
  }
  return { accessKeyId: accessKeyId! };
}
