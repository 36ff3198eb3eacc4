/**
 * Errors of the HTTP client. One class, `HttpError`, with a `code` callers
 * switch on and the data they need: the method, the URL with secrets
 * removed, the status (when a response came back) and the cause.
 *
 * Messages look like:
 * `GET https://api.example.com/v1/items?token=[redacted] failed with status 503 "Service Unavailable": {"error":"busy"}`.
 */

import { isSecretKey, REDACTED } from "../log/mod.ts";

/** Why a request failed. */
export type HttpErrorCode =
  /** The server answered with a status that is not 2xx. */
  | "HTTP_STATUS"
  /** No response headers within `headersTimeoutMs`, or not done within `timeoutMs`. */
  | "HTTP_TIMEOUT"
  /** Connection refused or reset, DNS, TLS handshake… */
  | "HTTP_NETWORK"
  /** The response body is larger than `maxResponseBytes`. */
  | "HTTP_TOO_LARGE"
  /** The caller's signal aborted the request. */
  | "HTTP_ABORTED";

/** Options of {@linkcode HttpError}. */
export interface HttpErrorInit {
  method: string;
  url: string | URL;
  status?: number;
  /** Start of the response body (up to 1 KiB), for status errors. */
  body?: string;
  headers?: Headers;
  cause?: unknown;
}

/** A failed HTTP request. `url` never holds credentials or secret query values. */
export class HttpError extends Error {
  override name = "HttpError";
  readonly code: HttpErrorCode;
  readonly method: string;
  /** The URL with user info and secret query values redacted. */
  readonly url: string;
  readonly status?: number;
  readonly body?: string;
  readonly headers?: Headers;

  constructor(code: HttpErrorCode, message: string, init: HttpErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = code;
    this.method = init.method;
    this.url = redactUrl(init.url);
    if (init.status !== undefined) this.status = init.status;
    if (init.body !== undefined) this.body = init.body;
    if (init.headers !== undefined) this.headers = init.headers;
  }
}

/** Extra query names whose values are secret, beyond the log redactor's key rule. */
const SECRET_QUERY = new Set(["x-amz-credential", "sig", "code", "apikey", "api_key", "auth"]);

/**
 * `url` without user info, and with the value of every query parameter whose
 * name looks secret (token, signature, credential, key, password…) replaced by
 * "[redacted]".
 */
export function redactUrl(url: string | URL): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return String(url).replace(/\?.*$/, "?[redacted]");
  }
  u.username = "";
  u.password = "";
  const pairs = [...u.searchParams];
  if (pairs.length === 0) return u.href;
  const query = pairs.map(([k, v]) => {
    const secret = isSecretKey(k) || SECRET_QUERY.has(k.toLowerCase());
    return `${encodeURIComponent(k)}=${secret ? REDACTED : encodeURIComponent(v)}`;
  }).join("&");
  return `${u.origin}${u.pathname}?${query}`;
}

/** Describe `err` for a message: its message, and its cause's when it has one. */
export function describeCause(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const inner = err.cause instanceof Error && err.cause.message !== err.message
    ? `: ${err.cause.message}`
    : "";
  return `${err.message}${inner}`;
}
