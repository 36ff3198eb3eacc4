/**
 * Build `HttpClient` options from the `http` config section (timeouts,
 * retries, size cap, proxy, extra CA file read from the config directory).
 */

import { resolve } from "../path.ts";
import type { Clock } from "../clock.ts";
import type { HttpConfig } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { HttpClientOptions } from "./client.ts";

/** Client options for `http` (the `http` config section). Reads `http.ca` when set. */
export async function httpClientOptions(
  http: HttpConfig,
  context: { configDir: string; clock?: Clock; logger?: Logger },
): Promise<HttpClientOptions> {
  const out: HttpClientOptions = {
    timeoutMs: http.timeoutMs,
    headersTimeoutMs: http.headersTimeoutMs,
    retries: http.retries,
    maxBufferedBytes: http.maxResponseBytes,
    proxy: http.proxy === "none" ? false : http.proxy,
  };
  if (http.ca) {
    out.tls = { caCerts: [await Deno.readTextFile(resolve(context.configDir, http.ca))] };
  }
  if (context.clock) out.clock = context.clock;
  if (context.logger) out.logger = context.logger;
  return out;
}
