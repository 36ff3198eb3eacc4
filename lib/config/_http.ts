/**
 * The `http` section: defaults of the HTTP client (`lib/http`) used for REST
 * calls and AWS APIs.
 *
 * ```json5
 * http: {
 *   timeoutMs: 60000,          // whole call, retries and body included
 *   headersTimeoutMs: 10000,   // connect + TLS + response headers, per attempt
 *   retries: 2,                // idempotent requests: network errors, 429, 5xx
 *   maxResponseBytes: 16777216,// cap of buffered responses (get/getJson)
 *   proxy: "env",              // "env" (HTTPS_PROXY, HTTP_PROXY, NO_PROXY…), "none", or "http://host:port"
 *   ca: "certs/corp-ca.pem",   // extra trusted CA (PEM), relative to the config dir
 * }
 * ```
 *
 * `proxy: "env"` needs no `--allow-env`: Deno's fetch applies `HTTPS_PROXY`,
 * `HTTP_PROXY` and `NO_PROXY` itself; when the agent may read them, the client
 * also applies them to its mTLS / custom-CA connections explicitly.
 */

import * as z from "../validate/mod.ts";
import { resolve } from "../path.ts";
import { bytes, ms, type PathBase, type PermissionNeeds } from "./_types.ts";

export const httpSection = z.strictObject({
  timeoutMs: ms().default(60_000),
  headersTimeoutMs: ms().default(10_000),
  retries: z.number().int().min(0).max(10).default(2),
  maxResponseBytes: bytes().default(16 * 1024 * 1024),
  proxy: z.union([
    z.enum(["env", "none"]),
    z.string().regex(/^https?:\/\/[^/\s]+\/?$/, 'a proxy URL like "http://proxy.lan:3128"'),
  ]).default("env"),
  ca: z.string().min(1).optional(),
}).prefault({});

export type HttpConfig = z.infer<typeof httpSection>;

export function httpPermissions(http: HttpConfig, base: PathBase): Partial<PermissionNeeds> {
  const out: Partial<PermissionNeeds> = {};
  if (http.proxy !== "env" && http.proxy !== "none") {
    const u = new URL(http.proxy);
    out.net = [`${u.hostname}:${u.port || (u.protocol === "https:" ? "443" : "80")}`];
  }
  if (http.ca) out.read = [resolve(base.configDir, http.ca)];
  return out;
}
