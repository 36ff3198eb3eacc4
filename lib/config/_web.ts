/**
 * The `web` section: the embedded web server.
 *
 * ```json5
 * web: {
 *   enabled: true,
 *   listen: ["http://127.0.0.1:8080", "https://[::]:8443"],
 *   tls: { cert: "certs/web.crt", key: "certs/web.key" },   // relative to the config dir
 * }
 * ```
 */

import { z } from "zod";
import { resolve } from "node:path";
import type { PathBase, PermissionNeeds } from "./_types.ts";

const endpoint = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "" &&
      u.pathname === "/" && !u.search;
  } catch {
    return false;
  }
}, 'a URL like "http://127.0.0.1:8080" or "https://[::]:8443"');

export const webSection = z.strictObject({
  enabled: z.boolean().default(true),
  /** Endpoints to listen on: http:// or https://, IPv4 or [IPv6], with port. */
  listen: z.array(endpoint).min(1).default(["http://127.0.0.1:8080"]),
  /** Certificate and key (PEM files) for https:// endpoints; relative to the config dir. */
  tls: z.strictObject({
    cert: z.string().min(1),
    key: z.string().min(1),
  }).optional(),
}).prefault({});

export type WebConfig = z.infer<typeof webSection>;

/** host:port of a listen URL, as --allow-net wants it. */
export function listenHostPort(url: string): string {
  const u = new URL(url);
  const port = u.port || (u.protocol === "https:" ? "443" : "80");
  return `${u.hostname}:${port}`;
}

export function webPermissions(web: WebConfig, base: PathBase): Partial<PermissionNeeds> {
  if (!web.enabled) return {};
  const read: string[] = [];
  if (web.tls) {
    read.push(resolve(base.configDir, web.tls.cert), resolve(base.configDir, web.tls.key));
  }
  return { net: web.listen.map(listenHostPort), read };
}
