/**
 * The web application: routes, middleware and the error boundary, usable
 * without a socket (`await app.request(new Request("http://x/api/status"))`).
 * `WebServer` puts it on listening sockets.
 *
 * Per request, in order: header-size limit (431) → route lookup (404, 405
 * with `Allow`, automatic `HEAD` and `OPTIONS`, CORS preflight) → body-size
 * limit (413, also while streaming) → authentication (session cookie or
 * bearer token, only when the request carries one) → role check (401/403) →
 * XSRF check for state-changing requests made with a session cookie (403) →
 * the handler, raced against `requestTimeout` (408 while the body is still
 * being read, 503 otherwise) → security headers, CORS headers, metrics,
 * access log. Every throw becomes a JSON error response here and nowhere else.
 */

import { type Clock, systemClock } from "../clock.ts";
import type { Logger } from "../log/mod.ts";
import { nullLogger } from "../log/mod.ts";
import type { AccessLog } from "./access_log.ts";
import { Roles } from "./auth/roles.ts";
import {
  type BodyLimits,
  limitStream,
  requestHeaderList,
  tooLarge,
  WebContext,
  type WebUser,
} from "./context.ts";
import { errorJson, toErrorResponse } from "./errors.ts";
import { pinWebClasses } from "./_globals.ts";
import { type RouteStats, WebMetrics } from "./metrics.ts";
import { Router } from "./router.ts";
import { bodyLength, Cors, SecurityHeaders } from "./security.ts";
import type { Authenticator, ConnInfo, Handler, RouteOptions, WebAppOptions } from "./types.ts";

export type { Authenticator, ConnInfo, Handler, RouteOptions, WebAppOptions };

/** What the app keeps per route, or per kind of unrouted answer: its metrics and specimen. */
interface _Slot {
  stats: RouteStats;
  /** The last request's context, answer and connection info (see `#unrouted`). */
  kept: { ctx: WebContext; res: Response; info: ConnInfo } | undefined;
}

interface _Route extends _Slot {
  handler: Handler;
  role: string;
  cors: boolean;
  bodySize: number;
  timeout: number;
  xsrf: boolean;
  auth: boolean;
}

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/**
 * How far (ms) the wall clock may drift from the monotonic clock, plus this per ms between two
 * looks, before a long duration counts as spanning a step of the wall clock (NTP slews at most
 * 0.05 %).
 */
const STEP_MS = 100;
const DRIFT = 0.001;
const LOCAL: ConnInfo = { remoteAddr: "127.0.0.1", secure: false };

/** A handler's answer is a promise (anything else is checked as a Response in `#finish`). */
export function isPromise(r: unknown): r is Promise<unknown> {
  return typeof (r as { then?: unknown } | null | undefined)?.then === "function";
}
/**
 * Request line plus header bytes (name, value, ": " and CRLF per header).
 * The raw list, when available, is kept on the context (later readers then
 * scan it instead of asking the runtime once per name).
 */
export function headerBytes(req: Request, ctx?: WebContext): number {
  let size = req.method.length + req.url.length;
  const list = ctx ? ctx.headerList() : requestHeaderList(req);
  if (list !== undefined) {
    for (let i = 0; i < list.length; i++) {
      const e = list[i]!;
      size += e[0].length + e[1].length + 4;
    }
    return size;
  }
  for (const [k, v] of req.headers) size += k.length + v.length + 4;
  return size;
}

/**
 * The answer to HEAD from the GET handler's: its status and headers, no body,
 * and the Content-Length the GET answer has when that is known without reading
 * the body (a string or bytes; a stream's length is not known, so none).
 */
function headAnswer(res: Response): Response {
  // Reading the headers settles a lazy body; the length is read before `body`, which makes a stream.
  const declared = res.headers.get("content-length");
  const len = declared ?? bodyLength(res);
  if (res.body === null) return res;
  res.body.cancel().catch(() => {});
  const head = new Response(null, res);
  if (declared === null && len !== null) head.headers.set("content-length", String(len));
  return head;
}

export class WebApp {
  readonly router = new Router<_Route>();
  readonly metrics = new WebMetrics();
  readonly roles: Roles;
  readonly log: Logger;
  readonly clock: Clock;
  authenticator: Authenticator | undefined;
  /** Answers requests no route matched (the static site). */
  fallback: Handler | undefined;
  accessLog: AccessLog | undefined;
  readonly #o: Required<
    Omit<WebAppOptions, "log" | "clock" | "roles" | "cors" | "accessLog" | "securityHeaders">
  >;
  readonly #security: SecurityHeaders;
  readonly #cors: Cors | undefined;
  readonly #limits: BodyLimits;
  /** Requests (and their streams) whose handler uses `ctx.signal`. */
  readonly #live = new Set<AbortController>();
  /** A route upgrades to WebSocket (declared, or seen answering 101): the server needs upgrades. */
  websockets = false;
  /**
   * The slots of answers no route gave (the static site, 405, no match); each
   * route has its own slot in its router entry. A slot holds the route's
   * metrics and, in `kept`, the last request's context (with its request),
   * answer and connection info, kept alive on purpose. The JIT's optimized code for a
   * request path refers weakly to the shapes ("maps") of these objects; a
   * full GC while none is alive (the agent's settle-when-idle, V8's memory
   * reducer) drops those shapes and throws that code away, so the next burst
   * runs unoptimized until it re-warms: measured, about twice the CPU per
   * request for its first second and more for the next two. One request's
   * objects per route keep the shapes, and the code: as many as there are
   * routes, at most one answer each.
   */
  readonly #unrouted = {
    static: this.#slot("static"),
    "405": this.#slot("405"),
    unmatched: this.#slot("unmatched"),
  };
  /** `clock` is the system clock: a request's start time is also its `ctx.now`. */
  readonly #systemClock: boolean;
  /** Wall clock minus monotonic clock (ms) at the last look, and when that was (see `#elapsed`). */
  #offset = Date.now() - performance.now();
  #offsetAt = performance.now();
  /**
   * The last request URL and where its path and query start: a client repeating a URL (a
   * device's clients poll the same few) skips three scans and a slice of it, and the router's
   * last-match check then compares the very same path string (by identity: comparing a fresh
   * slice of the URL would be a V8 runtime call).
   */
  #lastUrl = "";
  #lastStart = 0;
  #lastQuery = -1;
  #lastPath = "";

  constructor(options: WebAppOptions = {}) {
    pinWebClasses(); // the request path below says Response, Request, Headers, ReadableStream
    this.log = options.log ?? nullLogger;
    this.clock = options.clock ?? systemClock;
    this.#systemClock = this.clock === systemClock;
    this.roles = new Roles(options.roles ?? { public: [], user: ["public"], admin: ["user"] });
    this.#o = {
      headerSize: options.headerSize ?? 0,
      bodySize: options.bodySize ?? 1024 * 1024,
      requestTimeout: options.requestTimeout ?? 30_000,
      uploadCount: options.uploadCount ?? 10,
      uploadSize: options.uploadSize ?? 10 * 1024 * 1024,
      csp: options.csp ??
        "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'",
    };
    this.#limits = {
      bodySize: this.#o.bodySize,
      uploadCount: this.#o.uploadCount,
      uploadSize: this.#o.uploadSize,
    };
    this.#security = new SecurityHeaders(this.#o.csp, options.securityHeaders ?? "documents");
    if (options.cors) this.#cors = new Cors(options.cors);
    this.accessLog = options.accessLog;
  }

  /**
   * Bind a handler: `app.route("POST", "/api/led", handler, { role: "user" })`.
   * `method` may be "*" (any); `path` may hold `:params` and end in `/*`.
   */
  route(method: string, path: string, handler: Handler, options: RouteOptions = {}): this {
    const role = options.role ?? "public";
    this.roles.check(role);
    if (options.websocket) this.websockets = true;
    this.router.add(method, path, {
      ...this.#slot(path),
      handler,
      role,
      cors: options.cors ?? false,
      bodySize: options.bodySize ?? this.#o.bodySize,
      timeout: options.timeout ?? this.#o.requestTimeout,
      xsrf: options.xsrf ?? true,
      auth: options.auth ?? role !== "public",
    });
    return this;
  }

  #slot(route: string): _Slot {
    return { stats: this.metrics.slot(route), kept: undefined };
  }

  /**
   * Milliseconds since `t0` (a `Date.now()`), or NaN when the wall clock may have stepped
   * meanwhile. A request's duration is read from the wall clock, in whole milliseconds like
   * nginx's `$request_time`: `Date.now()` costs half of `performance.now()`, and the start
   * doubles as the request's `ctx.now`, so a request reads the clock twice in all. The
   * histogram's first bucket is 1 ms and its sum stays right on average (a start falls anywhere
   * within its millisecond). A duration under a second is taken as it is; a longer or negative
   * one only when the wall clock kept pace with the monotonic clock since the last look: a step
   * (NTP setting the clock of a board without RTC) makes it NaN, and the request is counted
   * without a duration.
   */
  #elapsed(t0: number): number {
    const ms = Date.now() - t0;
    if (ms >= 0 && ms < 1000) return ms;
    const mono = performance.now();
    const offset = Date.now() - mono;
    const stepped = Math.abs(offset - this.#offset) > STEP_MS + (mono - this.#offsetAt) * DRIFT;
    this.#offset = offset;
    this.#offsetAt = mono;
    return ms < 0 || stepped ? NaN : ms;
  }

  /** Abort every request and stream still using `ctx.signal` (server shutdown). */
  abortAll(reason: unknown = new DOMException("Server closing", "AbortError")): number {
    const n = this.#live.size;
    for (const ac of [...this.#live]) ac.abort(reason);
    this.#live.clear();
    return n;
  }

  get(path: string, handler: Handler, options?: RouteOptions): this {
    return this.route("GET", path, handler, options);
  }

  post(path: string, handler: Handler, options?: RouteOptions): this {
    return this.route("POST", path, handler, options);
  }

  /**
   * Handle one request without a socket (tests, the server's handler). Stays
   * synchronous when the handler is, which keeps the runtime on its fast path.
   */
  request(req: Request, info: ConnInfo = LOCAL): Response | Promise<Response> {
    const t0 = Date.now();
    const method = req.method;
    const url = req.url;
    let start: number, q: number, path: string;
    if (url === this.#lastUrl) {
      start = this.#lastStart;
      q = this.#lastQuery;
      path = this.#lastPath;
    } else {
      start = url.indexOf("/", url.indexOf("//") + 2);
      q = url.indexOf("?", start);
      path = q < 0 ? url.slice(start) : url.slice(start, q);
      if (url.length <= 2048) {
        this.#lastUrl = url;
        this.#lastStart = start;
        this.#lastQuery = q;
        this.#lastPath = path;
      }
    }
    const ctx = new WebContext(
      req,
      info.remoteAddr,
      this.log,
      this.#limits,
      path,
      info.secure,
      this.#live,
      this.#systemClock ? t0 : this.clock.now(),
    );
    // In flight from here until `#finish` (whose first step counts it out, so a throw there
    // cannot leave it counted): the server's concurrency cap reads this count.
    this.metrics.active++;
    let r: Response | Promise<Response>;
    try {
      r = this.#handle(req, method, ctx, path);
    } catch (e) {
      r = toErrorResponse(e, this.log, `${method} ${ctx.route || path}`);
    }
    if (!isPromise(r)) return this.#finish(req, method, ctx, r, info, t0, url, start, q);
    return this.#finishLater(r, req, method, ctx, info, t0, url, start, q);
  }

  /*
   * The closures a promise needs live in methods of their own (here and below): a function
   * that creates a closure allocates its captured variables in a context object on every call,
   * even a call that returns before reaching it, which the synchronous path need not pay.
   */

  #finishLater(
    r: Promise<Response>,
    req: Request,
    method: string,
    ctx: WebContext,
    info: ConnInfo,
    t0: number,
    url: string,
    start: number,
    q: number,
  ): Promise<Response> {
    return r.then(
      (res) => this.#finish(req, method, ctx, res, info, t0, url, start, q),
      (e) =>
        this.#finish(
          req,
          method,
          ctx,
          toErrorResponse(e, this.log, `${method} ${ctx.route || ctx.path}`),
          info,
          t0,
          url,
          start,
          q,
        ),
    );
  }

  #finish(
    req: Request,
    method: string,
    ctx: WebContext,
    res: Response,
    info: ConnInfo,
    t0: number,
    url: string,
    start: number,
    q: number,
  ): Response {
    this.metrics.active--;
    if (!(res instanceof Response)) {
      res = toErrorResponse(
        new TypeError(`Handler of ${ctx.route} returned ${typeof res}, not a Response`),
        this.log,
        ctx.route,
      );
    }
    const status = res.status; // once: each read of a Response getter checks its brand
    if (status === 101 && !this.websockets) this.#undeclaredUpgrade(ctx.route);
    // Answers to an authenticated request are private: kept out of every cache (no-store).
    res = this.#security.apply(res, info.secure, ctx.user !== undefined, status);
    if (method === "HEAD") res = headAnswer(res);
    const slot = (ctx.slot ?? this.#unrouted.unmatched) as _Slot;
    const kept = slot.kept;
    if (kept === undefined) slot.kept = { ctx, res, info };
    else {
      kept.ctx = ctx;
      kept.res = res;
      kept.info = info;
    }
    const ac = ctx.controller;
    if (ac && !ac.signal.aborted) this.#release(ac, res, info);
    const ms = this.#elapsed(t0);
    this.metrics.recordIn(slot.stats, method, status, ms);
    if (this.accessLog) {
      const len = res.headers.get("content-length");
      try {
        this.accessLog.write({
          time: ctx.now,
          addr: info.remoteAddr,
          user: ctx.user?.username,
          method,
          target: q < 0 ? ctx.path : url.slice(start),
          status: res.status,
          bytes: len === null ? undefined : Number(len),
          ms,
          referer: req.headers.get("referer"),
          ua: req.headers.get("user-agent"),
        });
      } catch (e) {
        // A full disk must not fail the request.
        this.log.warn("access log write failed", { error: String(e) });
      }
    }
    return res;
  }

  /** Keep a request's controller abortable while a streamed body is still being sent, then forget it. */
  #release(ac: AbortController, res: Response, info: ConnInfo): void {
    const done = res.body !== null ? info.completed?.() : undefined;
    if (done) done.catch(() => {}).finally(() => this.#live.delete(ac));
    else this.#live.delete(ac);
  }

  /** Learn about a WebSocket route that was not declared (the guarded engine then adapts). */
  #undeclaredUpgrade(route: string): void {
    this.websockets = true;
    this.log.error(
      `Route ${route} answered a WebSocket upgrade without { websocket: true }: declare it. ` +
        "On the guarded engine that first socket was dropped; new ones use its WebSocket loop.",
    );
  }

  #handle(
    req: Request,
    method: string,
    ctx: WebContext,
    path: string,
  ): Response | Promise<Response> {
    const limit = this.#o.headerSize;
    if (limit > 0) {
      const size = headerBytes(req, ctx);
      if (size > limit) {
        return errorJson(431, "headers_too_large", `Request headers exceed ${limit} bytes`);
      }
    }
    const m = this.router.match(method, path);
    if (m === null) {
      if (this.fallback && !path.startsWith("/api/")) {
        ctx.route = "static";
        ctx.slot = this.#unrouted.static;
        if (method === "GET" || method === "HEAD") return this.fallback(req, ctx);
        const allow = "GET, HEAD, OPTIONS";
        if (method === "OPTIONS") {
          return new Response(null, { status: 204, headers: { allow } });
        }
        return errorJson(405, "method_not_allowed", `${method} is not allowed here`, {
          headers: { allow },
        });
      }
      return errorJson(404, "not_found", `No route for ${method} ${path.slice(0, 200)}`);
    }
    if (m.value === undefined) return this.#noMethod(req, ctx, path, m.allowed);
    const route = m.value;
    ctx.route = m.pattern;
    ctx.slot = route;
    if (m.params === null) {
      return errorJson(400, "bad_path", "Malformed percent-encoding in the path");
    }
    ctx.params = m.params;
    if (method !== "GET" && method !== "HEAD") {
      const headers = req.headers;
      // Body limit: refuse a declared oversize at once; count a streamed one.
      const cl = headers.get("content-length");
      if (cl !== null && Number(cl) > route.bodySize) throw tooLarge(route.bodySize);
      if (req.body !== null && (cl === null || Number(cl) > 0)) {
        const limited = limitStream(req.body, route.bodySize, ctx);
        req = new Request(req.url, {
          method,
          headers,
          body: limited,
          signal: ctx.signal,
          // @ts-ignore: duplex is needed for a stream body and missing from the lib types
          duplex: "half",
        });
        (ctx as { req: Request }).req = req;
      }
      if (route.bodySize !== this.#o.bodySize) {
        (ctx as { limits: BodyLimits }).limits = { ...this.#limits, bodySize: route.bodySize };
      }
    }
    if (route.auth && this.authenticator) {
      const user = this.authenticator.authenticate(req, ctx);
      if (isPromise(user)) return this.#authorizedLater(user, req, method, ctx, route);
      ctx.user = user;
    }
    return this.#authorized(req, method, ctx, route);
  }

  #authorizedLater(
    user: Promise<WebUser | undefined>,
    req: Request,
    method: string,
    ctx: WebContext,
    route: _Route,
  ): Promise<Response> {
    return user.then((u) => {
      ctx.user = u;
      return this.#authorized(req, method, ctx, route);
    });
  }

  #authorized(
    req: Request,
    method: string,
    ctx: WebContext,
    route: _Route,
  ): Response | Promise<Response> {
    if (route.role !== "public") {
      if (!ctx.user) {
        return errorJson(401, "unauthorized", "Login required", {
          headers: { "www-authenticate": 'Bearer realm="tern"' },
        });
      }
      if (!this.roles.allows(ctx.user.role, route.role)) {
        return errorJson(403, "forbidden", `This needs the "${route.role}" role`);
      }
    }
    // `method !== "GET"` first: the common read skips the Set lookup of a fresh string.
    if (
      route.xsrf && method !== "GET" && UNSAFE.has(method) && ctx.user?.via === "session" &&
      !this.authenticator!.checkXsrf(req, ctx)
    ) {
      return errorJson(403, "xsrf", "Missing or wrong X-XSRF-Token header");
    }
    const result = route.timeout > 0
      ? this.#withDeadline(route.handler(req, ctx), ctx, route.timeout)
      : route.handler(req, ctx);
    if (!route.cors || !this.#cors) return result;
    return this.#withCors(req, result, this.#cors);
  }

  #withCors(
    req: Request,
    result: Response | Promise<Response>,
    cors: Cors,
  ): Response | Promise<Response> {
    const origin = req.headers.get("origin");
    if (origin === null || !cors.allowed(origin)) return result;
    const extra = cors.headers(origin);
    return isPromise(result)
      ? result.then((r) => withHeaders(r, extra))
      : withHeaders(result, extra);
  }

  #noMethod(req: Request, ctx: WebContext, path: string, allowed: string[]): Response {
    ctx.route = "405";
    ctx.slot = this.#unrouted["405"];
    const allow = allowed.join(", ");
    if (req.method === "OPTIONS") {
      const exact = this.router.match("GET", path) ?? this.router.match("POST", path);
      const r = exact && exact.value ? exact.value : undefined;
      const origin = req.headers.get("origin");
      if (r?.cors && this.#cors?.allowed(origin) && origin) {
        return this.#cors.preflight(req, origin, allowed);
      }
      return new Response(null, { status: 204, headers: { allow } });
    }
    return errorJson(405, "method_not_allowed", `${req.method} is not allowed here`, {
      headers: { allow },
    });
  }

  #withDeadline(
    result: Response | Promise<Response>,
    ctx: WebContext,
    ms: number,
  ): Response | Promise<Response> {
    return isPromise(result) ? this.#deadline(result, ctx, ms) : result;
  }

  #deadline(result: Promise<Response>, ctx: WebContext, ms: number): Promise<Response> {
    const { promise, resolve } = Promise.withResolvers<Response>();
    const timer = setTimeout(() => {
      const slowBody = ctx.bodyPending;
      ctx.abort(new DOMException("Request timed out", "TimeoutError"));
      resolve(
        slowBody
          ? errorJson(408, "request_timeout", "The request body arrived too slowly")
          : errorJson(503, "timeout", `The handler took longer than ${ms} ms`, {
            headers: { "retry-after": "1" },
          }),
      );
    }, ms);
    result.then((r) => {
      clearTimeout(timer);
      resolve(r);
    }, (e) => {
      clearTimeout(timer);
      resolve(toErrorResponse(e, this.log, `${ctx.req.method} ${ctx.route}`));
    });
    return promise;
  }
}

/** Add headers to a response, copying it when its headers are immutable. */
export function withHeaders(res: Response, headers: Record<string, string>): Response {
  try {
    for (const k in headers) res.headers.set(k, headers[k]!);
    return res;
  } catch {
    const copy = new Response(res.body, res);
    for (const k in headers) copy.headers.set(k, headers[k]!);
    return copy;
  }
}
