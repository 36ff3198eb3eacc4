/**
 * The "web" service: builds the `WebApp` from `config.web` (limits, roles,
 * CSP, CORS, access log), adds users/sessions/tokens when the database runs,
 * the device API (routes/api), `/metrics`, and the dashboard (routes/site,
 * served from memory), then listens on every `web.listen` endpoint.
 *
 * First run: when the database holds no user, a one-time setup token is
 * generated and logged (warn); `POST /api/auth/setup` with it creates the
 * first admin. Device makers add actions on each instance that runs (a
 * restart builds a new app):
 *
 * ```ts
 * agent.onService<WebService>("web", (web) => {
 *   web.route("POST", "/api/led", (req, ctx) => Response.json({ ok: true }), { role: "user" });
 * });
 * ```
 */

import denoJson from "../deno.json" with { type: "json" };
import type { Config } from "../lib/config/mod.ts";
import type { Database, DatabaseService } from "../lib/db/mod.ts";
import { resolve } from "../lib/path.ts";
import type { Service, ServiceContext, ServiceFactory } from "../lib/service.ts";
import { embeddedSite, siteDir } from "../lib/site_bundle.ts";
import {
  AccessLog,
  AuthStore,
  type Handler,
  LoginThrottle,
  prepareAll,
  randomToken,
  readDir,
  type RouteOptions,
  SessionAuth,
  StaticSite,
  WebApp,
  WebServer,
} from "../lib/web/mod.ts";
import { spoolFamilies, spoolStreamsOf } from "../lib/cloud/spool_metrics.ts";
import { type MetricFamily, MetricsRegistry, processFamilies } from "../lib/metrics/mod.ts";
import { registerApi } from "./api/mod.ts";
import { MetricsHistory } from "./api/_history.ts";
import { auditor, deniedRecorded } from "./api/_audit.ts";
import type { SetupState, WebDeps } from "./deps.ts";

/** Build a configured app (without sockets): what the service runs, and what tests use. */
export function buildApp(
  config: Config,
  opts: {
    log: WebDeps["log"];
    clock: WebDeps["clock"];
    db?: Database;
    status?: WebDeps["status"];
    logs?: WebDeps["logs"];
    stateDir?: string;
    configDir?: string;
    deviceId?: string;
    /** Read the latest config (reloads). @default () => config */
    current?: () => Config;
    /**
     * The agent's registry, rendered by `/metrics` (it collects this app's
     * series through the service). @default a registry of this app's series,
     * the process and the spool streams of `status`
     */
    metrics?: MetricsRegistry;
    /** A running service by name (routes that front one: shadows). */
    service?: (name: string) => unknown;
  },
): { app: WebApp; deps: WebDeps } {
  const w = config.web;
  const accessLog = w.accessLog
    ? new AccessLog({
      path: resolve(opts.stateDir ?? ".", w.accessLog.path),
      format: w.accessLog.format,
      maxSize: w.accessLog.maxSize,
      maxFiles: w.accessLog.maxFiles,
    })
    : undefined;
  const app = new WebApp({
    log: opts.log,
    clock: opts.clock,
    roles: w.roles,
    headerSize: w.limits.headerSize,
    bodySize: w.limits.bodySize,
    requestTimeout: w.limits.requestTimeout,
    uploadCount: w.limits.uploadCount,
    uploadSize: w.limits.uploadSize,
    csp: w.csp,
    securityHeaders: w.securityHeaders,
    ...(w.cors.origins.length ? { cors: w.cors } : {}),
    ...(accessLog ? { accessLog } : {}),
  });
  const setup: SetupState = { token: undefined, expires: 0 };
  const deps: WebDeps = {
    app,
    config: opts.current ?? (() => config),
    log: opts.log,
    clock: opts.clock,
    status: opts.status ?? { services: () => [] },
    setup,
    closers: [],
    version: denoJson.version,
    startedAt: opts.clock.now(),
    ...(opts.logs ? { logs: opts.logs } : {}),
    ...(opts.deviceId ? { deviceId: opts.deviceId } : {}),
    ...(opts.service ? { service: opts.service } : {}),
  };
  const record = auditor(deps);
  app.onDenied = (ctx) =>
    deniedRecorded.has(ctx) ? undefined : record(ctx, {
      action: "access.denied",
      target: `route:${ctx.req.method} ${ctx.route || ctx.path}`,
      outcome: "denied",
      details: { role: ctx.user?.role ?? null },
    });
  if (opts.db) {
    const store = new AuthStore(opts.db);
    const auth = new SessionAuth({
      store,
      clock: opts.clock,
      log: opts.log,
      onExpire: (s, reason) =>
        record(undefined, {
          actor: { type: "user", id: s.username },
          action: "auth.session.expire",
          target: `user:${s.username}`,
          details: { reason, started: new Date(s.started).toISOString() },
        }),
      idleTimeout: w.sessions.idleTimeout,
      absoluteTimeout: w.sessions.absoluteTimeout,
      cookie: w.sessions.cookie,
    });
    app.authenticator = auth;
    deps.db = opts.db;
    deps.auth = auth;
    deps.throttle = new LoginThrottle({
      clock: opts.clock,
      maxFailures: w.auth.maxFailures,
      lockout: w.auth.lockout,
      delay: w.auth.delay,
      store: store.throttleStore(),
    });
    if (store.userCount() === 0) {
      setup.token = randomToken(18);
      setup.expires = opts.clock.now() + w.auth.setupTokenTtl;
    }
  }
  let registry = opts.metrics;
  if (!registry) {
    registry = new MetricsRegistry();
    registry.register(() => app.metrics.families());
    registry.register(processFamilies);
    registry.register(() => spoolFamilies(spoolStreamsOf(deps.status.services())));
  }
  // Sampled while the service runs (WebService.start); a hand-built app starts it itself.
  deps.history = new MetricsHistory(registry, opts.clock);
  registerApi(deps);
  if (w.metrics.enabled) {
    const r0 = registry;
    app.get("/metrics", () => {
      const r = new Response(r0.render());
      r.headers.append("content-type", "text/plain; version=0.0.4; charset=utf-8");
      return r;
    }, { role: w.metrics.role });
  }
  if (w.static.enabled) {
    const embedded = embeddedSite();
    const files = new Map();
    const ready = prepareAll(
      embedded
        ? embedded.map((f) => ({ path: f.path, body: f.bytes, mtime: f.mtime }))
        : readDir(siteDir()),
      files,
    );
    const site = new StaticSite({
      files,
      documentHeaders: app.securityHeaders.documentHeaders,
      ready,
      htmlCache: w.static.htmlCache,
      assetCache: w.static.assetCache,
      cache: w.static.cache,
      spa: w.static.spa,
      ...(w.static.documents
        ? { documents: resolve(opts.configDir ?? "config", w.static.documents) }
        : {}),
    });
    app.fallback = site.serve;
    deps.site = site;
  }
  return { app, deps };
}

export class WebService implements Service {
  readonly app: WebApp;
  readonly deps: WebDeps;
  #server: WebServer | undefined;
  #ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
    const config = ctx.config;
    let db: Database | undefined;
    if (config.database.enabled) db = ctx.get<DatabaseService>("database").db;
    const built = buildApp(config, {
      log: ctx.log,
      clock: ctx.clock,
      ...(db ? { db } : {}),
      status: {
        services: (details) => ctx.states(details),
        ...(ctx.onStates ? { changes: (l: () => void) => ctx.onStates!(l) } : {}),
      },
      logs: ctx.logs,
      stateDir: ctx.stateDir,
      configDir: ctx.configDir,
      deviceId: ctx.deviceId,
      current: () => ctx.config,
      ...(ctx.metrics ? { metrics: ctx.metrics } : {}),
      service: (name) => {
        try {
          return ctx.get(name);
        } catch {
          return undefined;
        }
      },
    });
    this.app = built.app;
    this.deps = built.deps;
  }

  /** Bind an action: `web.route("POST", "/api/led", handler, { role: "user" })`. */
  route(method: string, path: string, handler: Handler, options?: RouteOptions): this {
    this.app.route(method, path, handler, options);
    return this;
  }

  /** Bound endpoints with their actual ports. */
  get endpoints(): string[] {
    return this.#server?.endpoints.map((e) => e.url) ?? [];
  }

  async start(signal: AbortSignal): Promise<void> {
    const w = this.#ctx.config.web;
    let tls: { cert: string; key: string } | undefined;
    if (w.tls && w.listen.some((u) => u.startsWith("https:"))) {
      const dir = this.#ctx.configDir;
      tls = {
        cert: await Deno.readTextFile(resolve(dir, w.tls.cert)),
        key: await Deno.readTextFile(resolve(dir, w.tls.key)),
      };
      this.#ctx.redactor?.add?.(tls.key);
    }
    await this.deps.site?.ready;
    this.deps.history?.start(signal);
    this.#server = await WebServer.start(this.app, {
      listen: w.listen,
      ...(tls ? { tls } : {}),
      engine: w.engine,
      concurrency: w.limits.concurrency,
      headerTimeout: w.limits.headerTimeout,
      idleTimeout: w.limits.idleTimeout,
      connections: w.limits.connections,
      log: this.#ctx.log,
      signal,
    });
    const setup = this.deps.setup;
    if (setup.token) {
      const url = this.#server.endpoints[0]?.url ?? "http://127.0.0.1:8080";
      this.#ctx.log.warn(
        `First run: no users yet. Create the admin within ${
          Math.round(w.auth.setupTokenTtl / 3600_000)
        } h with: curl -X POST ${url}/api/auth/setup -H 'content-type: application/json' ` +
          `-d '{"token":"${setup.token}","username":"admin","password":"<at least 8 chars>"}'`,
      );
    }
  }

  /**
   * Keys read per request apply live: the API's model exposure and the PBKDF2
   * iteration count for new hashes. The rest (listen, limits, roles, sessions,
   * CSP, CORS, static, access log) needs a restart of the service.
   */
  reload(_config: Config, changed: string[]): string[] {
    return changed.filter((p) =>
      p === "web.api" || p.startsWith("web.api.") || p === "web.auth.iterations"
    );
  }

  /** The request series, for the agent's registry. */
  metricFamilies(): MetricFamily[] {
    return this.app.metrics.families();
  }

  status(): Record<string, unknown> {
    return {
      endpoints: this.endpoints,
      inflight: this.app.metrics.active,
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.deps.history?.stop();
    await this.#server?.close();
    this.deps.auth?.close();
    this.deps.site?.close();
    for (const c of this.deps.closers?.splice(0) ?? []) c();
    this.app.accessLog?.close();
  }
}

/** Factory for the app's service list (`services.ts`). */
export const webService: ServiceFactory = {
  name: "web",
  deps: ["database", "audit"],
  enabled: (config) => config.web.enabled,
  create: (ctx) => new WebService(ctx),
};
