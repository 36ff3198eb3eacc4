/**
 * The types of the web app: handlers, route options, the authenticator
 * contract, app options and what the server passes per connection.
 */

import type { Clock } from "../clock.ts";
import type { Logger } from "../log/mod.ts";
import type { AccessLog } from "./access_log.ts";
import type { CorsOptions } from "./middleware/cors.ts";

export type { Handler, Middleware } from "./middleware/compose.ts";
export type { Authenticator } from "./middleware/auth.ts";

/** Options of one route. */
export interface RouteOptions {
  /** Role needed; "public" needs no login. @default "public" */
  role?: string;
  /** Answer CORS for this route with `web.cors`. @default false */
  cors?: boolean;
  /** Body size limit in bytes for this route. @default web.limits.bodySize */
  bodySize?: number;
  /** Handler deadline in ms for this route (0: none, e.g. SSE). @default web.limits.requestTimeout */
  timeout?: number;
  /** Check the XSRF token on state-changing session requests. @default true */
  xsrf?: boolean;
  /**
   * Resolve `ctx.user` (session cookie or bearer token) even on a public route.
   * @default true unless role is "public"
   */
  auth?: boolean;
  /**
   * The handler upgrades to a WebSocket (`upgrade(req)`). The default
   * "guarded" engine then serves new sockets on its WebSocket-capable loop.
   * @default false
   */
  websocket?: boolean;
}

/** Options of {@linkcode WebApp}. */
export interface WebAppOptions {
  log?: Logger;
  clock?: Clock;
  /** Roles and inheritance. @default admin ⊃ user ⊃ public */
  roles?: Record<string, string[]>;
  /** Request line + headers in bytes; 0 leaves it to the runtime's parser (64 KB, 100 headers). @default 0 */
  headerSize?: number;
  /** @default 1048576 */
  bodySize?: number;
  /** ms. @default 30000 */
  requestTimeout?: number;
  /** @default 10 */
  uploadCount?: number;
  /** bytes. @default 10485760 */
  uploadSize?: number;
  /** @default see web.csp */
  csp?: string;
  cors?: CorsOptions;
  /** "documents": security headers on documents (HTML, SVG, XML, untyped); "all": nosniff on every response too. @default "documents" */
  securityHeaders?: "all" | "documents";
  accessLog?: AccessLog;
}

/** Connection facts the server passes with each request. */
export interface ConnInfo {
  remoteAddr: string;
  secure: boolean;
  /** Resolves when the response has been sent (streams included). */
  completed?: () => Promise<void>;
}
