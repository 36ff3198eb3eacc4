/**
 * A small caller for AWS JSON-protocol APIs (the `X-Amz-Target` ones:
 * CloudWatch Logs, CloudWatch metrics, DynamoDB, Kinesis, SQS, STS…), so any
 * such API is one call away without the SDK.
 *
 * Wire format: `POST /` to `https://<prefix>.<region>.amazonaws.com` with
 * `Content-Type: application/x-amz-json-1.1` (or 1.0), `X-Amz-Target:
 * <targetPrefix>.<Operation>`, a JSON body, and a SigV4 signature. Errors come
 * back as a 4xx/5xx with `{"__type": "ns#ErrorType", "message": "…"}` (or
 * the `x-amzn-ErrorType` header), and become `AwsApiError`s.
 *
 * Each attempt is signed afresh (new time, current credentials). Throttling
 * errors, 429, 5xx and network failures are retried with full-jitter backoff
 * on the injected Clock, like the AWS SDK does. A device clock that is off
 * (no RTC, before NTP sync) is corrected like the SDK does: when AWS refuses
 * the request time, the offset to the response's `Date` is remembered and the
 * call is retried once at once.
 *
 * With `compressAbove`, a request body of at least that many bytes is sent
 * gzipped (`Content-Encoding: gzip`, signed over the compressed bytes), as the
 * SDK does for APIs with the request-compression trait (CloudWatch
 * PutMetricData: 10,240 bytes).
 *
 * Units: milliseconds.
 */

import { fullJitter } from "../backoff.ts";
import { type Clock, systemClock } from "../clock.ts";
import { HttpClient, HttpError } from "../http/mod.ts";
import type { AwsCredentialProvider } from "./credentials.ts";
import { signRequest } from "./sigv4.ts";

/** Options of {@linkcode AwsJsonClient}. */
export interface AwsJsonClientOptions {
  /** Signing name of the service, e.g. "logs", "monitoring", "dynamodb". */
  service: string;
  region: string;
  /** Prefix of `X-Amz-Target`, e.g. "Logs_20140328", "GraniteServiceVersion20100801". */
  targetPrefix: string;
  /** JSON protocol version in the content type. @default "1.1" */
  jsonVersion?: "1.0" | "1.1";
  /** Endpoint URL. @default `https://${endpointPrefix}.${region}.amazonaws.com` */
  endpoint?: string;
  /** Host prefix of the default endpoint. @default service */
  endpointPrefix?: string;
  credentials: AwsCredentialProvider;
  /** HTTP client (timeouts, proxy, CA). Its own retries are not used. @default a new one */
  http?: HttpClient;
  /** Retries after the first attempt. @default 3 */
  retries?: number;
  /** Backoff base in ms. @default 100 */
  retryMinMs?: number;
  /** Backoff cap in ms. @default 20000 */
  retryMaxMs?: number;
  /** Clock for signing times and backoff. @default systemClock */
  clock?: Clock;
  /** @default Math.random */
  random?: () => number;
  /** Gzip request bodies of at least this many bytes (UTF-16 length of the JSON). @default off */
  compressAbove?: number;
}

/** An error answer of an AWS API. */
export class AwsApiError extends Error {
  override name = "AwsApiError";
  readonly code = "AWS_API_ERROR";
  /** Error type without namespace, e.g. "ResourceNotFoundException". */
  readonly type: string;
  readonly status: number;
  readonly requestId?: string;
  constructor(
    message: string,
    init: { type: string; status: number; requestId?: string | undefined; cause?: unknown },
  ) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.type = init.type;
    this.status = init.status;
    if (init.requestId) this.requestId = init.requestId;
  }
}

const THROTTLING = new Set([
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "RequestThrottledException",
  "TooManyRequestsException",
  "ProvisionedThroughputExceededException",
  "TransactionInProgressException",
  "RequestLimitExceeded",
  "BandwidthLimitExceeded",
  "LimitExceededException",
  "RequestThrottled",
  "SlowDown",
  "PriorRequestNotComplete",
  "EC2ThrottledException",
]);

/** Calls one AWS JSON-protocol service. */
export class AwsJsonClient implements AsyncDisposable {
  readonly #o: AwsJsonClientOptions;
  readonly #http: HttpClient;
  readonly #ownHttp: boolean;
  readonly #clock: Clock;
  readonly endpoint: string;
  #skewMs = 0;

  constructor(options: AwsJsonClientOptions) {
    this.#o = options;
    this.#ownHttp = !options.http;
    this.#http = options.http ?? new HttpClient();
    this.#clock = options.clock ?? systemClock;
    this.endpoint = options.endpoint ??
      `https://${options.endpointPrefix ?? options.service}.${options.region}.amazonaws.com`;
  }

  /** Offset added to the clock when signing, learned from AWS's `Date` header, in ms. */
  get clockSkewMs(): number {
    return this.#skewMs;
  }

  /** Call `operation` with `input`; resolve with the parsed JSON reply (`{}` when empty). */
  call<T = Record<string, unknown>>(
    operation: string,
    input: unknown = {},
    options: { signal?: AbortSignal } = {},
  ): Promise<T> {
    return this.#call<T>(operation, input, options);
  }

  /**
   * Call a REST-JSON operation (`POST path?query` with a JSON body and
   * `Content-Type: application/json`, no `X-Amz-Target`): CloudTrail Data's
   * PutAuditEvents. Same signing, retries and errors as `call`.
   */
  callRest<T = Record<string, unknown>>(
    path: string,
    query: Record<string, string>,
    input: unknown,
    options: { signal?: AbortSignal } = {},
  ): Promise<T> {
    return this.#call<T>({ path, query }, input, options);
  }

  async #call<T>(
    operation: string | _Rest,
    input: unknown,
    options: { signal?: AbortSignal },
  ): Promise<T> {
    const o = this.#o;
    // Encoded once: the same bytes are hashed for the signature and sent, on every attempt.
    const body = _encoder.encode(JSON.stringify(input ?? {}));
    const retries = o.retries ?? 3;
    let skewRetried = false;
    for (let attempt = 0;; attempt++) {
      let retryable: Error;
      try {
        return await this.#once<T>(operation, body, options.signal);
      } catch (err) {
        if (err instanceof _SkewError) {
          if (!skewRetried) {
            skewRetried = true;
            attempt--;
            continue;
          }
          throw err.error;
        }
        const canRetry = err instanceof AwsApiError
          ? THROTTLING.has(err.type) || err.status === 429 || err.status >= 500
          : err instanceof HttpError && (err.code === "HTTP_NETWORK" ||
            (err.code === "HTTP_TIMEOUT" && /response headers/.test(err.message)));
        if (!canRetry || attempt >= retries) throw err;
        retryable = err as Error;
      }
      const delay = fullJitter(attempt, {
        min: o.retryMinMs ?? 100,
        max: o.retryMaxMs ?? 20_000,
        ...(o.random ? { random: o.random } : {}),
      });
      try {
        await this.#clock.sleep(delay, options.signal);
      } catch {
        throw retryable;
      }
    }
  }

  async #once<T>(
    operation: string | _Rest,
    json: Uint8Array<ArrayBuffer>,
    signal?: AbortSignal,
  ): Promise<T> {
    const o = this.#o;
    const rest = typeof operation === "string" ? undefined : operation;
    const headers: Record<string, string> = rest ? { "content-type": "application/json" } : {
      "content-type": `application/x-amz-json-${o.jsonVersion ?? "1.1"}`,
      "x-amz-target": `${o.targetPrefix}.${operation}`,
    };
    const url = rest
      ? `${this.endpoint}${rest.path}${
        Object.keys(rest.query).length ? `?${new URLSearchParams(rest.query)}` : ""
      }`
      : this.endpoint;
    let body = json;
    if (o.compressAbove !== undefined && json.length >= o.compressAbove) {
      body = await gzip(json);
      headers["content-encoding"] = "gzip";
    }
    const signed = await signRequest({
      method: "POST",
      url,
      headers,
      body,
    }, {
      credentials: await o.credentials(),
      region: o.region,
      service: o.service,
      date: this.#clock.now() + this.#skewMs,
    });
    const res = await this.#http.fetch(signed.url, {
      method: "POST",
      headers: signed.headers,
      body,
      retries: 0,
      throwOnStatus: false,
      maxResponseBytes: 16 * 1024 * 1024,
      ...(signal ? { signal } : {}),
    });
    const text = await res.text();
    if (res.ok) return (text ? JSON.parse(text) : {}) as T;
    const error = _apiError(rest ? rest.path.slice(1) : operation as string, o.service, res, text);
    const serverTime = Date.parse(res.headers.get("date") ?? "");
    if (_isSkew(error) && !Number.isNaN(serverTime)) {
      this.#skewMs = serverTime - this.#clock.now();
      throw new _SkewError(error);
    }
    throw error;
  }

  [Symbol.asyncDispose](): Promise<void> {
    if (this.#ownHttp) this.#http.close();
    return Promise.resolve();
  }
}

const _encoder = new TextEncoder();

/** A REST-JSON operation's path and query. */
type _Rest = { path: string; query: Record<string, string> };

/** `text` (or its UTF-8 bytes) as gzip bytes (CompressionStream). */
export async function gzip(
  text: string | Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Internal: the request time was refused and the skew was updated. */
class _SkewError extends Error {
  constructor(readonly error: AwsApiError) {
    super(error.message);
  }
}

const SKEW_TYPES = new Set([
  "RequestTimeTooSkewed",
  "RequestExpired",
  "RequestInTheFuture",
  "InvalidSignatureException",
  "SignatureDoesNotMatch",
  "AuthFailure",
]);

function _isSkew(err: AwsApiError): boolean {
  if (!SKEW_TYPES.has(err.type)) return false;
  return err.type.startsWith("Request") || /signature (expired|not yet current)/i.test(err.message);
}

function _apiError(operation: string, service: string, res: Response, text: string): AwsApiError {
  let parsed: Record<string, unknown> = {};
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    // Not JSON (a proxy's HTML page): keep the status.
  }
  const raw = String(parsed.__type ?? parsed.code ?? res.headers.get("x-amzn-errortype") ?? "");
  const type = raw.split(":")[0]!.split("#").pop() || `Http${res.status}`;
  const message = String(
    parsed.message ?? parsed.Message ?? (text.slice(0, 200) || res.statusText),
  );
  return new AwsApiError(
    `${service} ${operation} failed with ${type} (${res.status}): ${message}`,
    {
      type,
      status: res.status,
      requestId: res.headers.get("x-amzn-requestid") ?? undefined,
    },
  );
}
