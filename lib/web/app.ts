/**
 * The web application: routes, middleware and the error boundary, usable
 * without a socket (`await app.request(new Request("http://x/api/status"))`).
 * `WebServer` puts it on listening sockets.
 *
 * A request goes through one chain, each concern a middleware of its own file
 * (lib/web/middleware/): access log → security headers → the error boundary
 * → header-size limit (431) → route lookup (404; 405 with `Allow`; automatic
 * `HEAD` and `OPTIONS`; CORS preflight) → the route's own chain, composed
 * when it was added: body limit (413) → authentication and role (401/403) →
 * XSRF (403) → CORS → deadline (408/503) → the app's `use()` middlewares →
 * the handler. Every throw, anywhere, becomes a JSON error response at the
 * boundary and nowhere else. A chain of synchronous answers stays
 * synchronous, which keeps the runtime on its fast path.
 */

import { type Clock, systemClock } from "../clock.ts";
import type { Logger } from "../log/mod.ts";
import { nullLogger } from "../log/mod.ts";
import { type AccessLog, accessLogger } from "./access_log.ts";
import { Roles } from "./auth/roles.ts";
import { type BodyLimits, type ContextShared, WebContext } from "./context.ts";
import { errorJson, toErrorResponse } from "./errors.ts";
import { type RouteStats, WebMetrics } from "./metrics.ts";
import { authenticate, type Authenticator } from "./middleware/auth.ts";
import { compose, type Handler, isPromise, type Middleware } from "./middleware/compose.ts";
import { Cors } from "./middleware/cors.ts";
import { deadline } from "./middleware/deadline.ts";
import { bodyLimit, headerLimit } from "./middleware/limits.ts";
import { SecurityHeaders } from "./middleware/security_headers.ts";
import { xsrf } from "./middleware/xsrf.ts";
import { Router } from "./router.ts";
import type { ConnInfo, RouteOptions, WebAppOptions } from "./types.ts";

export type { Authenticator, ConnInfo, Handler, Middleware, RouteOptions, WebAppOptions };
export { withHeaders } from "./middleware/cors.ts";

/** What the router keeps per route: its composed chain, its metrics and its CORS choice. */
interface _Route {
  chain: Handler;
  stats: RouteStats;
  cors: boolean;
}

const LOCAL: ConnInfo = { remoteAddr: "127.0.0.1", secure: false };
const CSP =
  "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";

export class WebApp {
  readonly router = new Router<_Route>();
  readonly metrics = new WebMetrics();
  readonly roles: Roles;
  readonly log: Logger;
  readonly clock: Clock;
  authenticator: Authenticator | undefined;
  /** Answers GET and HEAD requests no route matched, outside `/api/` (the static site). */
  fallback: Handler | undefined;
  /** Told of every 403 answer (a permission denial), once it is decided: the audit trail. */
  onDenied: ((ctx: WebContext) => void) | undefined;
  /** A route upgrades to WebSocket (declared, or seen answering 101): the server needs upgrades. */
  websockets = false;
  /** The headers every document answer gets (the static site builds them into its answers). */
  readonly securityHeaders: SecurityHeaders;
  /** The access log given in the options (its owner closes it). */
  readonly accessLog: AccessLog | undefined;
  readonly #bodySize: number;
  readonly #timeout: number;
  readonly #cors: Cors | undefined;
  readonly #shared: ContextShared & { live: Set<AbortController> };
  readonly #use: Middleware[] = [];
  readonly #unrouted = {
    static: this.metrics.slot("static"),
    "405": this.metrics.slot("405"),
    unmatched: this.metrics.slot("unmatched"),
  };
  /** The whole chain of a request, from the access log to the route's handler. */
  readonly #chain: Handler;

  constructor(options: WebAppOptions = {}) {
    this.log = options.log ?? nullLogger;
    this.clock = options.clock ?? systemClock;
    this.roles = new Roles(options.roles ?? { public: [], user: ["public"], admin: ["user"] });
    this.#bodySize = options.bodySize ?? 1024 * 1024;
    this.#timeout = options.requestTimeout ?? 30_000;
    const limits: BodyLimits = {
      bodySize: this.#bodySize,
      uploadCount: options.uploadCount ?? 10,
      uploadSize: options.uploadSize ?? 10 * 1024 * 1024,
    };
    this.#shared = { log: this.log, limits, live: new Set() };
    if (options.cors) this.#cors = new Cors(options.cors);
    const security = new SecurityHeaders(options.csp ?? CSP, options.securityHeaders);
    const outer: Middleware[] = [];
    this.accessLog = options.accessLog;
    if (this.accessLog) outer.push(accessLogger(this.accessLog, this.log));
    this.securityHeaders = security;
    // (An answer the route marked complete, `ctx.secured`, needs only HSTS, on TLS.)
    const secured = (res: Response, ctx: WebContext) =>
      ctx.secured && !ctx.secure ? res : security.apply(res, ctx.secure, ctx.user !== undefined);
    outer.push((req, ctx, next) => {
      const r = next(req, ctx);
      return isPromise(r) ? r.then((res) => secured(res, ctx)) : secured(r, ctx);
    });
    const inner = options.headerSize ? [headerLimit(options.headerSize)] : [];
    this.#chain = compose(outer, this.#boundary(compose(inner, this.#dispatch)));
  }

  /**
   * Bind a handler: `app.route("POST", "/api/led", handler, { role: "user" })`.
   * `method` may be "*" (any); `path` may hold `:params` and end in `/*`.
   */
  route(method: string, path: string, handler: Handler, options: RouteOptions = {}): this {
    const role = options.role ?? "public";
    this.roles.check(role);
    if (options.websocket) this.websockets = true;
    // Only what the route can need: a read has no body to limit and changes nothing (no XSRF).
    const reads = method === "GET" || method === "HEAD";
    const chain: Middleware[] = reads ? [] : [bodyLimit(options.bodySize ?? this.#bodySize)];
    const auth = options.auth ?? role !== "public";
    if (auth) chain.push(authenticate(this, role));
    if (auth && !reads && (options.xsrf ?? true)) chain.push(xsrf(this));
    if (options.cors && this.#cors) chain.push(this.#cors.middleware());
    const timeout = options.timeout ?? this.#timeout;
    if (timeout > 0) chain.push(deadline(timeout));
    // The app's own middlewares run last, so they see the route's user; added later, they apply
    // to later routes only.
    chain.push(...this.#use);
    this.router.add(method, path, {
      chain: compose(chain, handler),
      stats: this.metrics.slot(path),
      cors: options.cors ?? false,
    });
    return this;
  }

  get(path: string, handler: Handler, options?: RouteOptions): this {
    return this.route("GET", path, handler, options);
  }

  post(path: string, handler: Handler, options?: RouteOptions): this {
    return this.route("POST", path, handler, options);
  }

  /** Add a middleware to every route added from now on (after its auth, before its handler). */
  use(middleware: Middleware): this {
    this.#use.push(middleware);
    return this;
  }

  /** Abort every request and stream still using `ctx.signal` (server shutdown). */
  abortAll(reason: unknown = new DOMException("Server closing", "AbortError")): number {
    const live = this.#shared.live;
    const n = live.size;
    for (const ac of [...live]) ac.abort(reason);
    live.clear();
    return n;
  }

  /** Handle one request without a socket (tests, the server's handler). */
  request(req: Request, info: ConnInfo = LOCAL): Response | Promise<Response> {
    const t0 = Date.now();
    const url = req.url;
    const start = url.indexOf("/", url.indexOf("//") + 2);
    const q = url.indexOf("?", start);
    const path = q < 0 ? url.slice(start) : url.slice(start, q);
    const now = this.clock === systemClock ? t0 : this.clock.now();
    const ctx = new WebContext(req, info, this.#shared, path, now);
    // In flight until `#finish`: the server's concurrency cap reads this count.
    this.metrics.active++;
    const r = this.#chain(req, ctx);
    return isPromise(r)
      ? r.then((res) => this.#finish(ctx, res, info, t0))
      : this.#finish(ctx, r, info, t0);
  }

  /** Turn every throw and rejection of `inner` into an error response. */
  #boundary(inner: Handler): Handler {
    const fail = (e: unknown, req: Request, ctx: WebContext) =>
      toErrorResponse(e, this.log, `${req.method} ${ctx.route || ctx.path}`);
    return (req, ctx) => {
      let r: Response | Promise<Response>;
      try {
        r = inner(req, ctx);
      } catch (e) {
        return fail(e, req, ctx);
      }
      if (!isPromise(r)) return checked(r, ctx, this.log);
      return r.then((res) => checked(res, ctx, this.log), (e) => fail(e, req, ctx));
    };
  }

  /** Route the request: its route's chain, the static site, or 404/405. */
  #dispatch: Handler = (req, ctx) => {
    const method = req.method;
    const path = ctx.path;
    const m = this.router.match(method, path);
    if (m === null) {
      if (!this.fallback || path.startsWith("/api/")) {
        return errorJson(404, "not_found", `No route for ${method} ${path.slice(0, 200)}`);
      }
      ctx.route = "static";
      ctx.slot = this.#unrouted.static;
      if (method === "GET" || method === "HEAD") return this.fallback(req, ctx);
      return this.#noMethod(req, ctx, ["GET", "HEAD", "OPTIONS"]);
    }
    if (m.value === undefined) return this.#noMethod(req, ctx, m.allowed);
    ctx.route = m.pattern;
    ctx.slot = m.value.stats;
    if (m.params === null) {
      return errorJson(400, "bad_path", "Malformed percent-encoding in the path");
    }
    ctx.params = m.params;
    return m.value.chain(req, ctx);
  };

  /** 405 with `Allow`, or the answer to `OPTIONS` (a CORS preflight when the route allows it). */
  #noMethod(req: Request, ctx: WebContext, allowed: string[]): Response {
    if (!ctx.route) {
      ctx.route = "405";
      ctx.slot = this.#unrouted["405"];
    }
    const allow = allowed.join(", ");
    if (req.method !== "OPTIONS") {
      return errorJson(405, "method_not_allowed", `${req.method} is not allowed here`, {
        headers: { allow },
      });
    }
    const exact = this.router.match("GET", ctx.path) ?? this.router.match("POST", ctx.path);
    const origin = req.headers.get("origin");
    if (exact?.value?.cors && this.#cors?.allowed(origin)) {
      return this.#cors.preflight(req, origin, allowed);
    }
    return new Response(null, { status: 204, headers: { allow } });
  }

  /** Count the request out and record it. */
  #finish(ctx: WebContext, res: Response, info: ConnInfo, t0: number): Response {
    this.metrics.active--;
    const status = res.status;
    if (status === 101 && !this.websockets) this.#undeclaredUpgrade(ctx.route);
    if (status === 403 && this.onDenied) this.#denied(ctx);
    const ac = ctx.controller;
    if (ac && !ac.signal.aborted) this.#release(ac, res, info);
    const stats = (ctx.slot ?? this.#unrouted.unmatched) as RouteStats;
    // Wall-clock milliseconds, like nginx's $request_time (a step of the clock during a request
    // skews that one sample; a negative one is counted as 0).
    this.metrics.recordIn(stats, ctx.req.method, status, Math.max(0, Date.now() - t0));
    return res;
  }

  #denied(ctx: WebContext): void {
    try {
      this.onDenied!(ctx);
    } catch (e) {
      this.log.warn("Recording a denied request failed", { route: ctx.route, error: e });
    }
  }

  /** Keep a request's controller abortable while a streamed body is still being sent, then forget it. */
  #release(ac: AbortController, res: Response, info: ConnInfo): void {
    const live = this.#shared.live;
    const done = res.body !== null ? info.completed?.() : undefined;
    if (done) done.catch(() => {}).finally(() => live.delete(ac));
    else live.delete(ac);
  }

  /** Learn about a WebSocket route that was not declared (the guarded engine then adapts). */
  #undeclaredUpgrade(route: string): void {
    this.websockets = true;
    this.log.error(
      `Route ${route} answered a WebSocket upgrade without { websocket: true }: declare it. ` +
        "On the guarded engine that first socket was dropped; new ones use its WebSocket loop.",
    );
  }
}

/** A handler's answer, or a 500 when it returned something that is not a Response. */
function checked(res: Response, ctx: WebContext, log: Logger): Response {
  if (res instanceof Response) return res;
  return toErrorResponse(
    new TypeError(`Handler of ${ctx.route} returned ${typeof res}, not a Response`),
    log,
    ctx.route,
  );
}
