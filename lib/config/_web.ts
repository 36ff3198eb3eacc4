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

import * as z from "../validate/mod.ts";
import { dirname, fromFileUrl, resolve } from "../path.ts";
import { embeddedSite, siteDir } from "../site_bundle.ts";
import { bytes, ms, type PathBase, type PermissionNeeds } from "./_types.ts";

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
  /**
   * "guarded": Tern's accept loop over the runtime's HTTP engine, enforcing
   * limits.headerTimeout, limits.idleTimeout and limits.connections per socket.
   * "serve": plain Deno.serve, without those three (the runtime cannot time out
   * a client that never finishes its headers).
   */
  engine: z.enum(["serve", "guarded"]).default("guarded"),
  /** Limits that sandbox every request. Sizes in bytes, times in ms. */
  limits: z.strictObject({
    /**
     * Request line plus headers; beyond → 431. 0: the HTTP parser's own cap (64 KB or
     * 100 headers → 400, before any Tern code runs), which costs nothing per request;
     * a value enforces that exact limit on every request (the runtime then hands over
     * every header, ~1 µs per request).
     */
    headerSize: bytes().refine((n) => n === 0 || n >= 1024, "0, or at least 1024").default(0),
    /** Request body, enforced while streaming; beyond → 413. */
    bodySize: bytes().default(1024 * 1024),
    /** Time for a handler to produce response headers (body read included); beyond → 408/503. */
    requestTimeout: ms().min(100).default(30_000),
    /** guarded engine: time to receive a request's headers (slowloris); then the socket is closed. */
    headerTimeout: ms().min(100).default(10_000),
    /** guarded engine: keep-alive idle time between requests. */
    idleTimeout: ms().min(100).default(60_000),
    /** Requests handled at once; beyond → 503 with Retry-After. */
    concurrency: z.number().int().min(1).default(256),
    /** guarded engine: open sockets at once; beyond, new sockets are closed. */
    connections: z.number().int().min(1).default(512),
    /** multipart uploads: files per request and bytes per file. */
    uploadCount: z.number().int().min(0).default(10),
    uploadSize: bytes().default(10 * 1024 * 1024),
    /** WebSocket: largest message accepted; beyond → close 1009. */
    wsMessage: bytes().min(125).default(1024 * 1024),
  }).prefault({}),
  /** Roles and what each inherits: admin ⊃ user ⊃ public. */
  roles: z.record(z.string().regex(/^[a-z][a-z0-9_-]*$/), z.array(z.string())).default({
    public: [],
    user: ["public"],
    admin: ["user"],
  }),
  /** Login sessions (stored in the database). */
  sessions: z.strictObject({
    /** Inactivity after which a session ends. */
    idleTimeout: ms().min(1000).default(30 * 60_000),
    /** Lifetime of a session however active. */
    absoluteTimeout: ms().min(1000).default(12 * 3600_000),
    /** Cookie name (gets the `__Host-` prefix on https). */
    cookie: z.string().regex(/^[A-Za-z0-9_-]+$/).default("tern_session"),
  }).prefault({}),
  /** Password hashing and login throttling. */
  auth: z.strictObject({
    /** PBKDF2-SHA256 iterations for new hashes (see docs/security.md). */
    iterations: z.number().int().min(10_000).default(210_000),
    /** Failures (per user and per client address) before a lockout. */
    maxFailures: z.number().int().min(1).default(5),
    /** Lockout length after maxFailures. */
    lockout: ms().default(15 * 60_000),
    /** First delay after a failure; doubles per failure. */
    delay: ms().default(250),
    /** One-time first-run setup token lifetime. */
    setupTokenTtl: ms().min(1000).default(24 * 3600_000),
  }).prefault({}),
  /** The single-page app from routes/site, and an optional documents directory. */
  static: z.strictObject({
    enabled: z.boolean().default(true),
    /** Cache-Control for index.html and SPA fallbacks. */
    htmlCache: z.string().default("no-cache"),
    /** Cache-Control for other files. */
    assetCache: z.string().default("public, max-age=300"),
    /** Cache-Control by path prefix, longest prefix first: { "/assets/": "public, max-age=31536000, immutable" }. */
    cache: z.record(z.string().startsWith("/"), z.string()).default({}),
    /** Serve index.html for unknown non-API GET paths. */
    spa: z.boolean().default(true),
    /** Documents directory on disk served under /docs/; relative to the config dir. */
    documents: z.string().min(1).optional(),
  }).prefault({}),
  /** Access log: combined (Apache) or JSON lines; file relative to the state dir, rotated. */
  accessLog: z.strictObject({
    format: z.enum(["combined", "json"]).default("combined"),
    path: z.string().min(1).default("logs/access.log"),
    maxSize: bytes().min(4096).default(10 * 1024 * 1024),
    maxFiles: z.number().int().min(1).max(100).default(5),
  }).optional(),
  /** Cross-origin requests, for routes that opt in with `cors: true`. */
  cors: z.strictObject({
    origins: z.array(z.string()).default([]),
    credentials: z.boolean().default(false),
    maxAge: z.number().int().nonnegative().default(600),
  }).prefault({}),
  /**
   * "documents": X-Content-Type-Options, CSP, X-Frame-Options and Referrer-Policy on
   * documents (HTML, XHTML, SVG, XML, or no content type); "all": nosniff on every
   * response too (a second response header costs the runtime ~25 % of a small
   * response's throughput; see docs/security.md, Headers).
   */
  securityHeaders: z.enum(["all", "documents"]).default("documents"),
  /** Content-Security-Policy sent with HTML documents. */
  csp: z.string().default(
    "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'",
  ),
  /** Database models served by the REST API (/api/data/:model) and the role each needs. */
  api: z.strictObject({
    models: z.record(
      z.string(),
      z.strictObject({
        /** Role to list and read items. */
        read: z.string().default("user"),
        /** Role to create, change and remove items. */
        write: z.string().default("admin"),
      }),
    ).default({}),
  }).prefault({}),
  /** Serve GET /metrics (Prometheus text), role needed. */
  metrics: z.strictObject({
    enabled: z.boolean().default(true),
    role: z.string().default("admin"),
  }).prefault({}),
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
  const write: string[] = [];
  if (web.tls) {
    read.push(resolve(base.configDir, web.tls.cert), resolve(base.configDir, web.tls.key));
  }
  if (web.static.documents) read.push(resolve(base.configDir, web.static.documents));
  if (web.accessLog) {
    const dir = dirname(resolve(base.stateDir, web.accessLog.path));
    read.push(dir);
    write.push(dir);
  }
  // The dashboard (routes/site) is read at start from beside the code, unless
  // a compiled binary carries it embedded (lib/site_bundle.ts).
  if (web.static.enabled && !embeddedSite()) {
    read.push(fromFileUrl(siteDir()).replace(/\/$/, ""));
  }
  return { net: web.listen.map(listenHostPort), read, write };
}
