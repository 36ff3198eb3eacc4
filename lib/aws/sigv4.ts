/**
 * AWS Signature Version 4 over WebCrypto: sign a request's headers
 * (`Authorization`) or its query (a presigned URL that expires).
 *
 * The canonical request is, joined by "\n": method, canonical path, canonical
 * query, canonical headers (lower-case `name:value\n`, values trimmed and inner
 * whitespace collapsed), the signed header names (`a;b;c`), and the payload hash
 * (hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`). The string to sign is
 * `AWS4-HMAC-SHA256\n<yyyymmddThhmmssZ>\n<day>/<region>/<service>/aws4_request\n<hex sha256 of the canonical request>`.
 *
 * Service rules: every service but S3 normalises the path (`.`/`..`/`//`) and
 * URI-encodes it a second time; S3 signs the path as sent and adds the
 * `x-amz-content-sha256` header. Both are options, with those defaults.
 *
 * Times: `date` is a `Date` or ms since the epoch; `expiresIn` is in seconds.
 */

import type { AwsCredentials } from "./credentials.ts";
import { EMPTY_SHA256, hmacHex, sha256Hex, signingKey } from "./_crypto.ts";

export const ALGORITHM = "AWS4-HMAC-SHA256";
/** Payload hash for a body that is not signed (streams, S3 presigned URLs). */
export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";
/** Longest expiry of a presigned URL SigV4 allows, in seconds (7 days). */
export const MAX_PRESIGN_SECONDS = 604_800;

/** Headers never signed (proxies and clients change them). */
const UNSIGNABLE = new Set([
  "authorization",
  "cache-control",
  "connection",
  "expect",
  "from",
  "keep-alive",
  "max-forwards",
  "pragma",
  "referer",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "user-agent",
  "x-amzn-trace-id",
]);
/** Headers the signer sets itself: any value the caller passed is dropped. */
const GENERATED = new Set(["authorization", "x-amz-date", "date"]);

/** Header input accepted by the signer. Repeated names are joined with ",". */
export type HeaderPairs = Headers | [string, string][] | Record<string, string>;
/** Query input (decoded values). */
export type QueryPairs = [string, string][] | Record<string, string | string[]>;

/** The parts of a request that the canonical request is built from. */
export interface CanonicalParts {
  method: string;
  /** Path as sent on the wire (percent-encoded once, or raw as in the AWS test suite). */
  path: string;
  /** Query parameters, decoded. @default none */
  query?: QueryPairs;
  headers: HeaderPairs;
  /** Hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`. */
  payloadHash: string;
}

/** RFC 3986 encoding as SigV4 wants it: only `A-Za-z0-9-._~` stay literal, hex is upper case. */
export function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

/** The canonical path: normalised and encoded again, or (S3) as given. */
export function canonicalPath(path: string, uriEscapePath: boolean): string {
  if (!uriEscapePath) return path || "/";
  const segments: string[] = [];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") segments.pop();
    else segments.push(seg);
  }
  const trailing = segments.length > 0 && path.endsWith("/") ? "/" : "";
  const normal = `/${segments.join("/")}${trailing}`;
  return uriEncode(normal).replace(/%2F/g, "/");
}

function _pairs(input: QueryPairs | undefined): [string, string][] {
  if (!input) return [];
  if (Array.isArray(input)) return input;
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(input)) {
    for (const one of Array.isArray(v) ? v : [v]) out.push([k, one]);
  }
  return out;
}

/** The canonical query: pairs encoded, sorted by key then value; `X-Amz-Signature` left out. */
export function canonicalQuery(query: QueryPairs | undefined): string {
  return _pairs(query)
    .filter(([k]) => k.toLowerCase() !== "x-amz-signature")
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort((a, b) => _cmp(a[0], b[0]) || _cmp(a[1], b[1]))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

function _cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Header pairs with lower-case names, repeated names joined with ",". */
export function headerMap(headers: HeaderPairs): Map<string, string> {
  const out = new Map<string, string>();
  const entries = headers instanceof Headers
    ? headers.entries()
    : Array.isArray(headers)
    ? headers
    : Object.entries(headers);
  for (const [name, value] of entries) {
    if (value === undefined || value === null) continue;
    const k = name.toLowerCase();
    const prev = out.get(k);
    out.set(k, prev === undefined ? String(value) : `${prev},${value}`);
  }
  return out;
}

/** Header value as signed: line breaks become spaces, runs of spaces/tabs collapse, ends trimmed. */
function _trimAll(value: string): string {
  return value.replace(/[\r\n]/g, " ").replace(/[ \t]+/g, " ").replace(/^ | $/g, "");
}

/** The canonical request text and the signed header list. */
export function canonicalRequest(
  parts: CanonicalParts,
  uriEscapePath = true,
): { text: string; signedHeaders: string } {
  const signed: [string, string][] = [];
  for (const [name, value] of headerMap(parts.headers)) {
    if (UNSIGNABLE.has(name) || name.startsWith("proxy-") || name.startsWith("sec-")) continue;
    signed.push([name, _trimAll(value)]);
  }
  signed.sort((a, b) => _cmp(a[0], b[0]));
  const signedHeaders = signed.map(([n]) => n).join(";");
  const text = [
    parts.method.toUpperCase(),
    canonicalPath(parts.path, uriEscapePath),
    canonicalQuery(parts.query),
    signed.map(([n, v]) => `${n}:${v}\n`).join(""),
    signedHeaders,
    parts.payloadHash,
  ].join("\n");
  return { text, signedHeaders };
}

/** `20150830T123600Z` for a time. */
export function amzDate(date: Date | number): string {
  return new Date(date).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/** Credential scope `day/region/service/aws4_request`. */
export function credentialScope(day: string, region: string, service: string): string {
  return `${day}/${region}/${service}/aws4_request`;
}

/** String to sign for a canonical request. */
export async function stringToSign(
  longDate: string,
  scope: string,
  canonical: string,
): Promise<string> {
  return `${ALGORITHM}\n${longDate}\n${scope}\n${await sha256Hex(canonical)}`;
}

/** Hex signature of a string to sign. */
export async function signature(
  secretAccessKey: string,
  longDate: string,
  region: string,
  service: string,
  toSign: string,
): Promise<string> {
  const key = await signingKey(secretAccessKey, longDate.slice(0, 8), region, service);
  return hmacHex(key, toSign);
}

/** Options of {@linkcode signRequest} and {@linkcode presignUrl}. */
export interface SigV4Options {
  credentials: AwsCredentials;
  /** Signing region, e.g. "eu-west-1". */
  region: string;
  /** Signing service name, e.g. "logs", "monitoring", "s3", "execute-api". */
  service: string;
  /** Signing time (Date or ms since the epoch). @default Date.now() */
  date?: Date | number;
  /** Sign `UNSIGNED-PAYLOAD` instead of the body's hash. @default false (true for S3 presigned URLs) */
  unsignedPayload?: boolean;
  /** A precomputed hex SHA-256 of the body (for streamed bodies). @default computed */
  payloadHash?: string;
  /** Normalise the path and encode it a second time. @default service !== "s3" */
  uriEscapePath?: boolean;
  /** Send the payload hash in `x-amz-content-sha256`. @default service === "s3" */
  applyChecksum?: boolean;
}

/** A request to sign. The body must be bytes or a string unless a payload hash is given. */
export interface SignableRequest {
  method: string;
  url: string | URL;
  headers?: HeaderPairs;
  body?: string | Uint8Array | ReadableStream<Uint8Array> | null;
}

/** The signed request, ready for `fetch(url, { method, headers, body })`. */
export interface SignedRequest {
  method: string;
  /** The URL to send: path and query re-encoded exactly as signed. */
  url: string;
  headers: Headers;
  body: SignableRequest["body"];
  canonicalRequest: string;
  stringToSign: string;
  signature: string;
  signedHeaders: string;
}

/** Split a URL into the wire path (segments re-encoded the SigV4 way) and decoded query pairs. */
function _splitUrl(url: URL): { path: string; query: [string, string][] } {
  const path = url.pathname.split("/").map((seg) => {
    try {
      return uriEncode(decodeURIComponent(seg));
    } catch {
      return seg;
    }
  }).join("/") || "/";
  return { path, query: [...url.searchParams] };
}

function _payloadHash(
  request: SignableRequest,
  headers: Map<string, string>,
  options: SigV4Options,
  unsigned: boolean,
): Promise<string> {
  if (options.payloadHash) return Promise.resolve(options.payloadHash);
  if (unsigned) return Promise.resolve(UNSIGNED_PAYLOAD);
  const given = headers.get("x-amz-content-sha256");
  if (given) return Promise.resolve(given);
  const body = request.body;
  if (body === undefined || body === null) return Promise.resolve(EMPTY_SHA256);
  if (typeof body === "string" || body instanceof Uint8Array) return sha256Hex(body);
  return Promise.reject(
    new TypeError(
      'Cannot hash a stream body: pass "payloadHash" or "unsignedPayload: true" to sign it',
    ),
  );
}

/** Sign `request` with an `Authorization` header (plus `x-amz-date`, token and checksum headers). */
export async function signRequest(
  request: SignableRequest,
  options: SigV4Options,
): Promise<SignedRequest> {
  const url = new URL(request.url);
  const { region, service, credentials } = options;
  const longDate = amzDate(options.date ?? Date.now());
  const headers = headerMap(request.headers ?? {});
  for (const g of GENERATED) headers.delete(g);
  if (!headers.has("host")) headers.set("host", url.host);
  headers.set("x-amz-date", longDate);
  if (credentials.sessionToken) headers.set("x-amz-security-token", credentials.sessionToken);
  const payloadHash = await _payloadHash(request, headers, options, !!options.unsignedPayload);
  if ((options.applyChecksum ?? service === "s3") && !headers.has("x-amz-content-sha256")) {
    headers.set("x-amz-content-sha256", payloadHash);
  }
  const { path, query } = _splitUrl(url);
  const { text, signedHeaders } = canonicalRequest(
    { method: request.method, path, query, headers: [...headers], payloadHash },
    options.uriEscapePath ?? service !== "s3",
  );
  const scope = credentialScope(longDate.slice(0, 8), region, service);
  const toSign = await stringToSign(longDate, scope, text);
  const sig = await signature(credentials.secretAccessKey, longDate, region, service, toSign);
  const out = new Headers();
  for (const [k, v] of headers) out.set(k, v);
  out.delete("host"); // fetch sets it from the URL, to the same value
  out.set(
    "authorization",
    `${ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${sig}`,
  );
  const q = canonicalQuery(query);
  return {
    method: request.method.toUpperCase(),
    url: `${url.origin}${path}${q ? `?${q}` : ""}`,
    headers: out,
    body: request.body,
    canonicalRequest: text,
    stringToSign: toSign,
    signature: sig,
    signedHeaders,
  };
}

/** Options of {@linkcode presignUrl}. */
export interface PresignOptions extends SigV4Options {
  /** Seconds the URL stays valid, 1..604800. @default 3600 */
  expiresIn?: number;
  /**
   * Append `X-Amz-Security-Token` after signing instead of signing it (AWS IoT
   * MQTT over WebSocket wants this). @default false
   */
  tokenAfterSignature?: boolean;
}

/** A presigned URL and the headers (if any were signed besides host) the caller must send. */
export interface PresignedUrl {
  url: string;
  /** Signed headers other than host that must be sent with the URL. */
  headers: Headers;
  canonicalRequest: string;
  stringToSign: string;
  signature: string;
}

/**
 * Sign `request` in its query string (a presigned URL). `x-amz-*` headers are
 * moved into the query; the session token goes in `X-Amz-Security-Token`.
 */
export async function presignUrl(
  request: SignableRequest,
  options: PresignOptions,
): Promise<PresignedUrl> {
  const expiresIn = options.expiresIn ?? 3600;
  if (!Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > MAX_PRESIGN_SECONDS) {
    throw new RangeError(
      `Presigned URL expiry must be 1..${MAX_PRESIGN_SECONDS} seconds, got ${expiresIn}`,
    );
  }
  const url = new URL(request.url);
  const { region, service, credentials } = options;
  const longDate = amzDate(options.date ?? Date.now());
  const scope = credentialScope(longDate.slice(0, 8), region, service);
  const original = headerMap(request.headers ?? {});
  const payloadHash = await _payloadHash(
    request,
    original,
    options,
    options.unsignedPayload ?? service === "s3",
  );
  const headers = new Map<string, string>();
  const { path, query } = _splitUrl(url);
  for (const [k, v] of original) {
    if (GENERATED.has(k)) continue;
    if (k.startsWith("x-amz-")) query.push([k, v]);
    else headers.set(k, v);
  }
  if (!headers.has("host")) headers.set("host", url.host);
  const token = credentials.sessionToken;
  if (token && !options.tokenAfterSignature) query.push(["X-Amz-Security-Token", token]);
  query.push(
    ["X-Amz-Algorithm", ALGORITHM],
    ["X-Amz-Credential", `${credentials.accessKeyId}/${scope}`],
    ["X-Amz-Date", longDate],
    ["X-Amz-Expires", String(expiresIn)],
  );
  const signedList = [...headers.keys()]
    .filter((n) => !UNSIGNABLE.has(n) && !n.startsWith("proxy-") && !n.startsWith("sec-"))
    .sort();
  query.push(["X-Amz-SignedHeaders", signedList.join(";")]);
  const { text } = canonicalRequest(
    { method: request.method, path, query, headers: [...headers], payloadHash },
    options.uriEscapePath ?? service !== "s3",
  );
  const toSign = await stringToSign(longDate, scope, text);
  const sig = await signature(credentials.secretAccessKey, longDate, region, service, toSign);
  const out = new Headers();
  for (const [k, v] of headers) if (k !== "host") out.set(k, v);
  return {
    url: `${url.origin}${path}?${canonicalQuery(query)}&X-Amz-Signature=${sig}${
      token && options.tokenAfterSignature ? `&X-Amz-Security-Token=${uriEncode(token)}` : ""
    }`,
    headers: out,
    canonicalRequest: text,
    stringToSign: toSign,
    signature: sig,
  };
}
