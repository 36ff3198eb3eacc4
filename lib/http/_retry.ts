/**
 * Retry rules of the HTTP client: which requests may be repeated, which
 * outcomes are worth a retry, and how long the server asked us to wait.
 *
 * Retried: network errors, headers timeouts, 429, 500, 502, 503, 504 — only
 * for idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE) or requests marked
 * `idempotent: true`, and only when the body can be sent again (not a stream).
 */

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);
const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);

/** True when `method` may be repeated safely. */
export function isIdempotent(method: string): boolean {
  return IDEMPOTENT.has(method.toUpperCase());
}

/** True for statuses a retry may cure. */
export function isRetryableStatus(status: number): boolean {
  return RETRY_STATUS.has(status);
}

/** True when `body` can be sent twice (not a one-shot stream). */
export function isReplayable(body: BodyInit | null | undefined): boolean {
  return !(body instanceof ReadableStream);
}

/**
 * The wait a `Retry-After` header asks for, in ms: delta-seconds or an
 * HTTP-date relative to `now`. Undefined when absent or unparsable.
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
