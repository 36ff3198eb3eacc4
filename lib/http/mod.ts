/**
 * HTTP client front door: a streaming `fetch` with timeouts, retries, size
 * caps, mutual TLS and proxies, plus buffered text/JSON helpers.
 * Other subsystems import only this file.
 */

export {
  defaultHttpClient,
  getJson,
  HttpClient,
  type HttpClientOptions,
  type HttpTlsOptions,
  postJson,
  type RequestOptions,
  urlFetch,
  urlGet,
  urlPost,
} from "./client.ts";
export { HttpError, type HttpErrorCode, redactUrl } from "./errors.ts";
export type { EnvReader } from "../env.ts";
export { isLoopback, matchesNoProxy, proxyForUrl } from "./proxy.ts";
export { parseRetryAfter } from "./_retry.ts";
export { httpClientOptions } from "./from_config.ts";
