/**
 * Puts a `WebApp` on one or more listening endpoints: `http://` and
 * `https://` (PEM cert and key), IPv4 and `[IPv6]`.
 *
 * Engines:
 * - "guarded" (default): Tern's accept loop (`Deno.listen`/`listenTls`)
 *   handing each socket to the runtime's own HTTP engine (see guarded.ts):
 *   as fast as `Deno.serve`, and it closes a socket that has not delivered
 *   complete headers within `headerTimeout` ms (slowloris) or stays idle
 *   between requests beyond `idleTimeout` ms, and caps open sockets at
 *   `connections`.
 * - "serve": plain `Deno.serve`, without those three guards (the runtime
 *   offers no header-read timeout).
 *
 * In both, hyper rejects malformed request lines, duplicate `Content-Length`
 * and headers over ~64 KB before any Tern code runs.
 * Both engines cap requests in flight at `concurrency` (503 + Retry-After).
 * `close()` stops accepting, lets in-flight requests finish and closes idle
 * sockets.
 */

import type { Logger } from "../log/mod.ts";
import type { ConnInfo, WebApp } from "./app.ts";
import { errorJson } from "./errors.ts";
import { listenGuarded } from "./guarded.ts";
import { serveHttp, serveOnConnection } from "./_deno_internals.ts";

/** Options of {@linkcode WebServer.start}. */
export interface WebServerOptions {
  /** Endpoints like "http://127.0.0.1:8080", "https://[::1]:8443". Port 0 picks a free port. */
  listen: string[];
  /** PEM certificate and key (contents) for https endpoints. */
  tls?: { cert: string; key: string };
  /** @default "guarded" */
  engine?: "serve" | "guarded";
  /** Requests in flight at once. @default 256 */
  concurrency?: number;
  /** guarded: ms to receive the first request's complete headers. @default 10000 */
  headerTimeout?: number;
  /** guarded: ms idle between requests on a keep-alive socket. @default 60000 */
  idleTimeout?: number;
  /** guarded: open sockets at once. @default 512 */
  connections?: number;
  /** ms to let in-flight requests and streams (SSE) finish on close before cutting them. @default 5000 */
  shutdownTimeout?: number;
  log: Logger;
  signal?: AbortSignal;
}

/** A bound endpoint. */
export interface BoundEndpoint {
  /** The URL with the actual port ("http://127.0.0.1:41234"). */
  url: string;
  hostname: string;
  port: number;
  secure: boolean;
}

interface _Listener {
  close(): Promise<void>;
}

export class WebServer {
  readonly endpoints: BoundEndpoint[] = [];
  #listeners: _Listener[] = [];

  private constructor(readonly app: WebApp, readonly options: WebServerOptions) {}

  /** Bind every endpoint; rejects (closing what was bound) when one fails. */
  static async start(app: WebApp, options: WebServerOptions): Promise<WebServer> {
    const s = new WebServer(app, options);
    try {
      for (const url of options.listen) await s.#bind(url);
    } catch (e) {
      await s.close();
      throw e;
    }
    options.signal?.addEventListener("abort", () => s.close(), { once: true });
    return s;
  }

  /** Requests in flight: the app's count (`metrics.active`), which the concurrency cap reads. */
  get inflight(): number {
    return this.app.metrics.active;
  }

  /** The handler both engines call: concurrency cap, then the app. */
  #handle(req: Request, info: ConnInfo): Promise<Response> | Response {
    const max = this.options.concurrency ?? 256;
    if (this.app.metrics.active >= max) {
      this.app.metrics.record(req.method, "busy", 503, 0);
      return errorJson(503, "busy", "Too many requests in progress", {
        headers: { "retry-after": "1" },
      });
    }
    return this.app.request(req, info);
  }

  async #bind(raw: string): Promise<void> {
    const u = new URL(raw);
    const secure = u.protocol === "https:";
    const hostname = u.hostname.replace(/^\[|\]$/g, "");
    const port = Number(u.port || (secure ? 443 : 80));
    if (secure && !this.options.tls) {
      throw new TypeError(`Endpoint "${raw}" is https but web.tls (cert and key) is not set`);
    }
    let engine = this.options.engine ?? "guarded";
    if (engine === "guarded" && !serveOnConnection && !serveHttp) {
      this.options.log.warn(
        "guarded engine: this runtime lacks its entry points, using Deno.serve",
      );
      engine = "serve";
    }
    const bound = engine === "serve"
      ? await this.#serve(hostname, port, secure)
      : this.#guarded(hostname, port, secure);
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    this.endpoints.push({
      url: `${u.protocol}//${host}:${bound.port}`,
      hostname,
      port: bound.port,
      secure,
    });
    this.options.log.info("listening", { url: `${u.protocol}//${host}:${bound.port}`, engine });
  }

  #serve(hostname: string, port: number, secure: boolean): Promise<{ port: number }> {
    const { promise, resolve, reject } = Promise.withResolvers<{ port: number }>();
    const tls = secure ? this.options.tls! : undefined;
    try {
      const server = Deno.serve({
        hostname,
        port,
        ...(tls ? { cert: tls.cert, key: tls.key } : {}),
        onListen: (addr) => resolve({ port: (addr as Deno.NetAddr).port }),
        onError: this.#onError,
      }, (req, info) => {
        const remote = info.remoteAddr as Deno.NetAddr;
        return this.#handle(req, {
          remoteAddr: remote.hostname,
          secure,
          completed: () => info.completed,
        });
      });
      this.#drainOnClose(() => server.shutdown(), server.finished);
    } catch (e) {
      reject(e);
    }
    return promise;
  }

  #guarded(hostname: string, port: number, secure: boolean): { port: number } {
    const l = listenGuarded({
      hostname,
      port,
      ...(secure ? { tls: this.options.tls! } : {}),
      handler: (req, info) => this.#handle(req, info),
      onError: this.#onError,
      headerTimeout: this.options.headerTimeout ?? 10_000,
      idleTimeout: this.options.idleTimeout ?? 60_000,
      connections: this.options.connections ?? 512,
      metrics: this.app.metrics,
      log: this.options.log,
      websockets: () => this.app.websockets,
    });
    this.#drainOnClose(() => l.shutdown(), l.finished);
    return { port: l.port };
  }

  #onError = (e: unknown): Response => {
    this.options.log.error("unhandled server error", { error: String(e) });
    return errorJson(500, "internal", "Internal server error");
  };

  /**
   * On close: graceful shutdown first; streams that outlive `shutdownTimeout`
   * (SSE…) end through their `ctx.signal`, one that ignores it is left to
   * the process exit.
   */
  #drainOnClose(shutdown: () => Promise<void>, finished: Promise<void>): void {
    const grace = this.options.shutdownTimeout ?? 5000;
    this.#listeners.push({
      close: async () => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = () => new Promise<"late">((r) => timer = setTimeout(() => r("late"), grace));
        const how = await Promise.race([shutdown().then(() => "done" as const), late()]);
        clearTimeout(timer);
        if (how === "done") return;
        this.app.abortAll();
        const again = await Promise.race([finished.then(() => "done" as const), late()]);
        clearTimeout(timer);
        if (again === "late") {
          this.options.log.warn("Responses still streaming at shutdown", { graceMs: grace });
        }
      },
    });
  }

  /** Stop listening and drain. Idempotent. */
  async close(): Promise<void> {
    const ls = this.#listeners;
    this.#listeners = [];
    await Promise.allSettled(ls.map((l) => l.close()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
