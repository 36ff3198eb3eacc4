/**
 * The HTTP client: `fetch` plus what a device needs around it.
 *
 * - Timeouts through `AbortSignal`: `headersTimeoutMs` (connect, TLS and
 *   response headers, per attempt) and `timeoutMs` (the whole call, retries
 *   and body included).
 * - Retries with full-jitter backoff (`lib/backoff.ts`) for idempotent
 *   requests on network errors, headers timeouts, 429 and 5xx, honouring
 *   `Retry-After` (up to `maxRetryAfterMs`). Waits read the injected `Clock`.
 * - Fully streaming: `fetch()` returns the `Response` as soon as headers
 *   arrive; the body streams through in constant memory, capped at
 *   `maxResponseBytes` when set. Request bodies may be streams (not retried).
 * - Custom CA and client certificate (mutual TLS) and a proxy, through
 *   `Deno.createHttpClient`; the proxy comes from `proxy` or the standard
 *   environment variables (see `proxy.ts`).
 * - Failures are `HttpError`s naming the method, the URL (secrets removed),
 *   the status and the cause.
 *
 * Units: milliseconds and bytes.
 */

import { fullJitter } from "../backoff.ts";
import { type Clock, systemClock } from "../clock.ts";
import type { Logger } from "../log/mod.ts";
import { guardBody, readSnippet } from "./_body.ts";
import { isIdempotent, isReplayable, isRetryableStatus, parseRetryAfter } from "./_retry.ts";
import { describeCause, HttpError, redactUrl } from "./errors.ts";
import { type EnvReader, readEnv } from "../env.ts";
import { proxyForUrl } from "./proxy.ts";

/** TLS settings of a client. PEM text, not file names. */
export interface HttpTlsOptions {
  /** Extra trusted CA certificates (PEM). @default the system roots only */
  caCerts?: string[];
  /** Client certificate chain (PEM) for mutual TLS. */
  cert?: string;
  /** Client private key (PEM) for mutual TLS. */
  key?: string;
}

/** Options of {@linkcode HttpClient}. */
export interface HttpClientOptions {
  /** Resolve relative request URLs against this. */
  baseUrl?: string;
  /** Headers sent with every request (a request's own headers win). */
  headers?: HeadersInit;
  /** Whole-call deadline in ms, retries and body included; 0 = none. @default 60000 */
  timeoutMs?: number;
  /** Per-attempt deadline in ms for connecting and receiving the response headers. @default 10000 */
  headersTimeoutMs?: number;
  /** Retries after the first attempt (idempotent requests only). @default 2 */
  retries?: number;
  /** Backoff base in ms. @default 500 */
  retryMinMs?: number;
  /** Backoff cap in ms. @default 20000 */
  retryMaxMs?: number;
  /** Longest `Retry-After` honoured, in ms; a longer one ends the retries. @default 60000 */
  maxRetryAfterMs?: number;
  /** Response size cap in bytes for `fetch()`; 0 = none. @default 0 */
  maxResponseBytes?: number;
  /** Response size cap in bytes for the buffered helpers (`get`, `getJson`…). @default 16 MiB */
  maxBufferedBytes?: number;
  tls?: HttpTlsOptions;
  /** Proxy URL, `false` for none, or `"env"` for the standard variables. @default "env" */
  proxy?: string | false | "env";
  /** Environment reader for `proxy: "env"`. @default readEnv (undefined when unset or not permitted) */
  env?: EnvReader;
  /** @default systemClock */
  clock?: Clock;
  /** Retries are logged at debug level. */
  logger?: Logger;
  /** Random source of the backoff jitter. @default Math.random */
  random?: () => number;
}

/** Per-request options (override the client's). */
export interface RequestOptions {
  /** @default "GET" */
  method?: string;
  headers?: HeadersInit;
  body?: BodyInit | null;
  signal?: AbortSignal;
  timeoutMs?: number;
  headersTimeoutMs?: number;
  retries?: number;
  /** Allow retries for a non-idempotent method (e.g. a POST with an idempotency key). */
  idempotent?: boolean;
  maxResponseBytes?: number;
  /** Throw `HttpError` for a non-2xx status. @default true */
  throwOnStatus?: boolean;
}

const DEFAULTS = {
  timeoutMs: 60_000,
  headersTimeoutMs: 10_000,
  retries: 2,
  retryMinMs: 500,
  retryMaxMs: 20_000,
  maxRetryAfterMs: 60_000,
  maxBufferedBytes: 16 * 1024 * 1024,
};

/** A configured HTTP client. Close it (or `await using`) to release its connection pools. */
export class HttpClient implements AsyncDisposable {
  readonly #o: HttpClientOptions;
  readonly #clock: Clock;
  readonly #clients = new Map<string, Deno.HttpClient>();

  constructor(options: HttpClientOptions = {}) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * The proxy this client sends `url` through (its `proxy` option, or the
   * environment's, NO_PROXY and loopback applied), or undefined: direct.
   * For transports beside `fetch` that must follow the same settings (S3 bodies).
   */
  proxyFor(url: URL): string | undefined {
    const p = this.#o.proxy ?? "env";
    return p === false
      ? undefined
      : p === "env"
      ? proxyForUrl(url, this.#o.env ?? readEnv)
      : proxyForUrl(url, (n) => (n === "HTTPS_PROXY" || n === "HTTP_PROXY") ? p : undefined);
  }

  /** The TLS settings of this client (extra CAs, client certificate). */
  get tls(): HttpTlsOptions | undefined {
    return this.#o.tls;
  }

  /** The Deno client for `url` (custom TLS and/or proxy), or undefined for the default. */
  #denoClient(url: URL): Deno.HttpClient | undefined {
    const proxy = this.proxyFor(url);
    const tls = this.#o.tls;
    if (!proxy && !tls?.caCerts?.length && !tls?.cert) return undefined;
    const key = proxy ?? "";
    let client = this.#clients.get(key);
    if (!client) {
      const opts: Deno.CreateHttpClientOptions = {};
      if (tls?.caCerts?.length) opts.caCerts = tls.caCerts;
      if (tls?.cert && tls.key) Object.assign(opts, { cert: tls.cert, key: tls.key });
      if (proxy) opts.proxy = { url: proxy };
      client = Deno.createHttpClient(opts);
      this.#clients.set(key, client);
    }
    return client;
  }

  /**
   * Send a request; resolve with the `Response` once its headers arrived. The
   * body streams; read or cancel it. Throws `HttpError` for failures and (unless
   * `throwOnStatus: false`) non-2xx statuses.
   */
  async fetch(input: string | URL, options: RequestOptions = {}): Promise<Response> {
    const o = this.#o;
    const url = new URL(input, o.baseUrl);
    const method = (options.method ?? "GET").toUpperCase();
    const shown = `${method} ${redactUrl(url)}`;
    const timeoutMs = options.timeoutMs ?? o.timeoutMs ?? DEFAULTS.timeoutMs;
    const headersTimeoutMs = options.headersTimeoutMs ?? o.headersTimeoutMs ??
      DEFAULTS.headersTimeoutMs;
    const maxBytes = options.maxResponseBytes ?? o.maxResponseBytes ?? 0;
    const canRetry = (options.idempotent ?? isIdempotent(method)) && isReplayable(options.body);
    const retries = canRetry ? options.retries ?? o.retries ?? DEFAULTS.retries : 0;
    const headers = new Headers(o.headers);
    for (const [k, v] of new Headers(options.headers)) headers.set(k, v);

    const total = new AbortController();
    const totalTimer = timeoutMs > 0
      ? setTimeout(() => total.abort(new DOMException("Timed out", "TimeoutError")), timeoutMs)
      : undefined;
    const done = () => clearTimeout(totalTimer);
    const user = options.signal;
    const fail = (code: HttpError["code"], msg: string, extra: Partial<HttpError> = {}) =>
      new HttpError(code, `${shown} ${msg}`, { method, url, ...extra });

    for (let attempt = 0;; attempt++) {
      const perAttempt = new AbortController();
      const headersTimer = headersTimeoutMs > 0
        ? setTimeout(
          () => perAttempt.abort(new DOMException("Timed out", "TimeoutError")),
          headersTimeoutMs,
        )
        : undefined;
      const signals = [total.signal, perAttempt.signal];
      if (user) signals.push(user);
      let res: Response;
      let retryError: HttpError | undefined;
      let waitMs: number | undefined;
      try {
        res = await fetch(url, {
          method,
          headers,
          body: options.body ?? null,
          signal: AbortSignal.any(signals),
          client: this.#denoClient(url),
          redirect: "follow",
        } as RequestInit);
      } catch (err) {
        clearTimeout(headersTimer);
        if (user?.aborted) {
          done();
          throw fail("HTTP_ABORTED", "was aborted", { cause: user.reason });
        }
        if (total.signal.aborted) {
          done();
          throw fail("HTTP_TIMEOUT", `timed out after ${timeoutMs} ms`, { cause: err });
        }
        retryError = perAttempt.signal.aborted
          ? fail("HTTP_TIMEOUT", `got no response headers within ${headersTimeoutMs} ms`, {
            cause: err,
          })
          : fail("HTTP_NETWORK", `failed: ${describeCause(err)}`, { cause: err });
        if (attempt >= retries) {
          done();
          throw retryError;
        }
        res = undefined as never;
      }
      clearTimeout(headersTimer);

      if (!retryError) {
        if (res.ok || options.throwOnStatus === false && !isRetryableStatus(res.status)) {
          return this.#wrap(res, { shown, method, url, maxBytes, total, timeoutMs, done });
        }
        if (isRetryableStatus(res.status) && attempt < retries) {
          waitMs = parseRetryAfter(res.headers.get("retry-after"), this.#clock.now());
          const tooLong = waitMs !== undefined &&
            waitMs > (o.maxRetryAfterMs ?? DEFAULTS.maxRetryAfterMs);
          if (!tooLong) {
            await res.body?.cancel().catch(() => {});
            retryError = fail("HTTP_STATUS", `failed with status ${res.status}`, {
              status: res.status,
            });
          }
        }
        if (!retryError) {
          if (options.throwOnStatus === false) {
            return this.#wrap(res, { shown, method, url, maxBytes, total, timeoutMs, done });
          }
          const body = await readSnippet(res.body);
          done();
          throw fail(
            "HTTP_STATUS",
            `failed with status ${res.status}${res.statusText ? ` "${res.statusText}"` : ""}${
              body ? `: ${body.slice(0, 200)}` : ""
            }`,
            { status: res.status, body, headers: res.headers },
          );
        }
      }

      const delay = waitMs ?? fullJitter(attempt, {
        min: o.retryMinMs ?? DEFAULTS.retryMinMs,
        max: o.retryMaxMs ?? DEFAULTS.retryMaxMs,
        ...(o.random ? { random: o.random } : {}),
      });
      o.logger?.debug(`Retrying ${shown} in ${delay} ms`, {
        attempt: attempt + 1,
        of: retries,
        reason: retryError!.message,
      });
      try {
        await this.#clock.sleep(
          delay,
          AbortSignal.any(user ? [user, total.signal] : [total.signal]),
        );
      } catch (err) {
        done();
        if (user?.aborted) throw fail("HTTP_ABORTED", "was aborted", { cause: user.reason });
        throw fail("HTTP_TIMEOUT", `timed out after ${timeoutMs} ms (while retrying)`, {
          cause: retryError ?? err,
        });
      }
    }
  }

  #wrap(res: Response, ctx: {
    shown: string;
    method: string;
    url: URL;
    maxBytes: number;
    total: AbortController;
    timeoutMs: number;
    done: () => void;
  }): Response {
    const { shown, method, url, maxBytes, total, timeoutMs, done } = ctx;
    const length = Number(res.headers.get("content-length") ?? NaN);
    if (maxBytes > 0 && length > maxBytes) {
      res.body?.cancel().catch(() => {});
      done();
      throw new HttpError(
        "HTTP_TOO_LARGE",
        `${shown} response of ${length} bytes exceeds the ${maxBytes} byte limit`,
        { method, url, status: res.status },
      );
    }
    if (!res.body) {
      done();
      return res;
    }
    const body = guardBody(res.body, {
      maxBytes: maxBytes > 0 ? maxBytes : Infinity,
      tooLarge: (n) =>
        new HttpError(
          "HTTP_TOO_LARGE",
          `${shown} response exceeds the ${maxBytes} byte limit (read ${n})`,
          { method, url, status: res.status },
        ),
      mapError: (err) =>
        total.signal.aborted
          ? new HttpError(
            "HTTP_TIMEOUT",
            `${shown} timed out after ${timeoutMs} ms reading the body`,
            {
              method,
              url,
              status: res.status,
              cause: err,
            },
          )
          : new HttpError("HTTP_NETWORK", `${shown} body failed: ${describeCause(err)}`, {
            method,
            url,
            status: res.status,
            cause: err,
          }),
      onEnd: done,
    });
    return new Response(body, {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    });
  }

  /** GET `url` and return the body as bytes (capped at `maxBufferedBytes`). */
  async getBytes(url: string | URL, options: RequestOptions = {}): Promise<Uint8Array> {
    const res = await this.fetch(url, this.#buffered({ ...options, method: "GET" }));
    return new Uint8Array(await res.arrayBuffer());
  }

  /** GET `url` and return the body as text. */
  async get(url: string | URL, options: RequestOptions = {}): Promise<string> {
    const res = await this.fetch(url, this.#buffered({ ...options, method: "GET" }));
    return await res.text();
  }

  /** POST `body` to `url` and return the response body as text. */
  async post(
    url: string | URL,
    body: BodyInit | null,
    options: RequestOptions = {},
  ): Promise<string> {
    const res = await this.fetch(url, this.#buffered({ ...options, method: "POST", body }));
    return await res.text();
  }

  /** GET `url` and parse the JSON body. */
  async getJson<T = unknown>(url: string | URL, options: RequestOptions = {}): Promise<T> {
    const headers = new Headers(options.headers);
    if (!headers.has("accept")) headers.set("accept", "application/json");
    return _parseJson<T>(await this.get(url, { ...options, headers }), url);
  }

  /** Send `value` as JSON (POST unless `method` says otherwise) and parse the JSON reply. */
  async postJson<T = unknown>(
    url: string | URL,
    value: unknown,
    options: RequestOptions = {},
  ): Promise<T> {
    const headers = new Headers(options.headers);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
    if (!headers.has("accept")) headers.set("accept", "application/json");
    const res = await this.fetch(
      url,
      this.#buffered({
        method: "POST",
        ...options,
        headers,
        body: JSON.stringify(value),
      }),
    );
    const text = await res.text();
    return text === "" ? undefined as T : _parseJson<T>(text, url);
  }

  #buffered(options: RequestOptions): RequestOptions {
    return {
      ...options,
      maxResponseBytes: options.maxResponseBytes ??
        (this.#o.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes),
    };
  }

  /** Close the connection pools. */
  close(): void {
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

function _parseJson<T>(text: string, url: string | URL): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new SyntaxError(
      `Response of ${redactUrl(url)} is not JSON: ${JSON.stringify(text.slice(0, 80))}`,
      { cause: err },
    );
  }
}

let _default: HttpClient | undefined;

/** The shared default client (system CAs, proxy from the environment). */
export function defaultHttpClient(): HttpClient {
  return _default ??= new HttpClient();
}

/** Streaming fetch with the default client. See {@linkcode HttpClient.fetch}. */
export function urlFetch(url: string | URL, options?: RequestOptions): Promise<Response> {
  return defaultHttpClient().fetch(url, options);
}

/** GET `url` as text with the default client. */
export function urlGet(url: string | URL, options?: RequestOptions): Promise<string> {
  return defaultHttpClient().get(url, options);
}

/** POST `body` to `url` with the default client; the reply as text. */
export function urlPost(
  url: string | URL,
  body: BodyInit | null,
  options?: RequestOptions,
): Promise<string> {
  return defaultHttpClient().post(url, body, options);
}

/** GET `url` and parse JSON, with the default client. */
export function getJson<T = unknown>(url: string | URL, options?: RequestOptions): Promise<T> {
  return defaultHttpClient().getJson<T>(url, options);
}

/** POST `value` as JSON and parse the JSON reply, with the default client. */
export function postJson<T = unknown>(
  url: string | URL,
  value: unknown,
  options?: RequestOptions,
): Promise<T> {
  return defaultHttpClient().postJson<T>(url, value, options);
}
