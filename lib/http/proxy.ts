/**
 * Proxy selection from the standard environment variables, as curl reads
 * them: `HTTPS_PROXY`/`https_proxy` for https URLs, `HTTP_PROXY`/`http_proxy`
 * for http URLs, `ALL_PROXY`/`all_proxy` for both, and `NO_PROXY`/`no_proxy`
 * (comma-separated hosts, domain suffixes like `.example.com` or
 * `example.com`, optional `:port`, or `*`) for hosts to reach directly.
 * Loopback hosts (localhost, 127.0.0.0/8, ::1) are always reached directly.
 */

import type { EnvReader } from "../env.ts";

/** The proxy URL to use for `url`, or undefined to connect directly. */
export function proxyForUrl(url: URL, env: EnvReader): string | undefined {
  if (isLoopback(url.hostname)) return undefined;
  const get = (name: string) => env(name) ?? env(name.toLowerCase());
  const proxy = url.protocol === "https:"
    ? get("HTTPS_PROXY") ?? get("ALL_PROXY")
    : url.protocol === "http:"
    ? get("HTTP_PROXY") ?? get("ALL_PROXY")
    : undefined;
  if (!proxy) return undefined;
  if (matchesNoProxy(url, get("NO_PROXY") ?? "")) return undefined;
  return proxy.includes("://") ? proxy : `http://${proxy}`;
}

/** True when `hostname` is a loopback name or address. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h.endsWith(".localhost") || h === "::1" || /^127\./.test(h);
}

/** True when `url` matches an entry of a NO_PROXY list. */
export function matchesNoProxy(url: URL, noProxy: string): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  for (const raw of noProxy.split(",")) {
    let entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === "*") return true;
    let entryPort: string | undefined;
    const m = entry.match(/^(\[[^\]]+\]|[^:]+):(\d+)$/);
    if (m) {
      entry = m[1]!;
      entryPort = m[2];
    }
    entry = entry.replace(/^\[|\]$/g, "").replace(/^\*?\./, ".");
    if (entryPort && entryPort !== port) continue;
    if (entry.startsWith(".")) {
      if (host.endsWith(entry) || host === entry.slice(1)) return true;
    } else if (host === entry || host.endsWith(`.${entry}`)) {
      return true;
    }
  }
  return false;
}
