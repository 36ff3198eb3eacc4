/**
 * The "guarded" engine: Tern owns the accept loop, so it can do what
 * `Deno.serve` cannot — close a socket that never completes its request
 * headers (slowloris), close keep-alive sockets idle too long, and cap open
 * sockets.
 *
 * Each accepted socket is handed to the runtime's own HTTP engine (the one
 * behind `Deno.serve`, see _deno_internals.ts),
 * so requests cost the same as on `Deno.serve`. Per request the only extra
 * work is one counter increment; a sweep every `tick` ms compares counters
 * and shuts a socket down gracefully when it has had no new request for
 * `headerTimeout` (none yet) or `idleTimeout` (after one). Graceful means the
 * runtime finishes a response in progress (an SSE stream, a download) and
 * then closes, while a socket still waiting for headers closes at once.
 *
 * That entry point cannot keep a WebSocket: it closes the upgraded socket
 * when the HTTP exchange ends. So once the app has a WebSocket route
 * (`{ websocket: true }`, or a 101 seen by the app), new sockets go to the legacy
 * `Deno.serveHttp` loop (about half the throughput), which keeps the same
 * guarantees; so do runtimes without the entry point. A TLS client that
 * stalls its handshake cannot be cut off: the runtime runs the handshake in a
 * task that neither a graceful shutdown nor closing the socket stops, so the
 * socket stays open until the client leaves. Such a socket gives its slot back
 * instead: once it has outlived the header timeout and a grace period without
 * a request, it no longer counts toward `connections` (nor does a server
 * shutdown wait for it), and it is counted as stalled. Without that, as many
 * silent TLS clients as the cap would lock everyone else out for as long as
 * they stay. A test fails loudly if the fast entry point disappears on a Deno
 * upgrade.
 */

import type { Logger } from "../log/mod.ts";
import type { ConnInfo } from "./app.ts";
import type { WebMetrics } from "./metrics.ts";
import { serveHttp, serveOnConnection } from "./_deno_internals.ts";

/** A request's connection info: one object, no closure (built per request). */
class _Info implements ConnInfo {
  constructor(
    readonly remoteAddr: string,
    readonly secure: boolean,
    readonly runtime: { completed: Promise<void> },
  ) {}

  completed(): Promise<void> {
    return this.runtime.completed;
  }
}

/** What the guarded engine needs from the server. */
export interface GuardedOptions {
  hostname: string;
  port: number;
  tls?: { cert: string; key: string };
  handler: (req: Request, info: ConnInfo) => Response | Promise<Response>;
  onError: (e: unknown) => Response;
  /** ms to receive the first request's headers. */
  headerTimeout: number;
  /** ms without a new request on a kept-alive socket. */
  idleTimeout: number;
  /** Open sockets at once; beyond, new ones are closed at accept. */
  connections: number;
  metrics: WebMetrics;
  log: Logger;
  /**
   * True when the app has WebSocket routes: the runtime's per-connection
   * engine closes an upgraded socket as soon as the HTTP exchange ends, so
   * sockets accepted from then on use the `Deno.serveHttp` loop instead.
   */
  websockets(): boolean;
}

/** A running guarded listener. */
export interface GuardedListener {
  port: number;
  /** Stop accepting and shut every socket down gracefully (responses in progress finish). */
  shutdown(): Promise<void>;
  /** Resolves when every socket has closed after `shutdown()`. */
  finished: Promise<void>;
}

interface _Conn {
  /** Requests started on this socket (the only per-request write). */
  served: number;
  /** `served` at the last sweep, and when it last changed (ms, monotonic). */
  seen: number;
  since: number;
  closing: boolean;
  /** No longer counted: a TLS handshake that outlived its shutdown (see the module doc). */
  released: boolean;
  /** Settles when the socket has closed. */
  finished?: Promise<void>;
  shutdown(): void;
}

/** Start a guarded listener on `hostname:port` (TLS when `tls` is set). */
export function listenGuarded(o: GuardedOptions, fast = serveOnConnection): GuardedListener {
  const listener: Deno.Listener = o.tls
    ? Deno.listenTls({
      hostname: o.hostname,
      port: o.port,
      cert: o.tls.cert,
      key: o.tls.key,
      alpnProtocols: ["http/1.1"],
    })
    : Deno.listen({ hostname: o.hostname, port: o.port });
  const secure = o.tls !== undefined;
  const conns = new Set<_Conn>();
  const done = new Set<Promise<void>>();
  const metrics = o.metrics;
  metrics.connections = Math.max(0, metrics.connections);
  if (!fast) o.log.warn("guarded engine: runtime entry point missing, using Deno.serveHttp");
  else if (o.websockets()) o.log.info("guarded engine: WebSocket routes, using Deno.serveHttp");

  const track = (shutdown: () => void): _Conn => {
    const c: _Conn = {
      served: 0,
      seen: 0,
      since: performance.now(),
      closing: false,
      released: false,
      shutdown,
    };
    conns.add(c);
    metrics.connections++;
    return c;
  };
  const untrack = (c: _Conn, finished: Promise<void>) => {
    done.delete(finished);
    if (c.released) {
      metrics.tlsStalled--;
      return;
    }
    conns.delete(c);
    metrics.connections--;
  };
  /** Give the slot of a socket stuck in its TLS handshake back (see the module doc). */
  const release = (c: _Conn) => {
    c.released = true;
    conns.delete(c);
    if (c.finished) done.delete(c.finished);
    metrics.connections--;
    metrics.tlsStalled++;
    const now = performance.now();
    if (now - lastStallLog > 60_000) {
      lastStallLog = now;
      o.log.warn("TLS handshakes stalled past the header timeout (slots given back)", {
        stalled: metrics.tlsStalled,
      });
    }
  };
  let lastStallLog = -Infinity;

  const serveFast = (conn: Deno.Conn, remote: string) => {
    const c = track(() => {});
    const served = fast!(
      conn,
      undefined,
      (req, info) => {
        c.served++;
        return o.handler(req, new _Info(remote, secure, info));
      },
      o.onError,
      () => {},
    );
    c.shutdown = () => served.shutdown().catch(() => {});
    const finished = served.finished.catch(() => {}).finally(() => untrack(c, finished));
    c.finished = finished;
    done.add(finished);
  };

  const serveLegacy = (conn: Deno.Conn, remote: string) => {
    const http = serveHttp!(conn);
    let busy = false;
    const close = () => {
      try {
        http.close();
      } catch { /* already closed */ }
    };
    // Like the fast path's graceful shutdown: a response in progress finishes first.
    const c = track(() => busy || close());
    const finished = (async () => {
      for (;;) {
        const ev = await http.nextRequest().catch(() => null);
        if (!ev || c.closing) break;
        c.served++;
        busy = true;
        const res = await o.handler(ev.request, { remoteAddr: remote, secure });
        await ev.respondWith(res).catch(() => {});
        busy = false;
        if (c.closing) break;
      }
    })().catch(() => {}).finally(() => {
      close();
      untrack(c, finished);
    });
    c.finished = finished;
    done.add(finished);
  };

  // One sweep for all sockets: no timer per request or per socket.
  const tick = Math.max(
    50,
    Math.min(1000, Math.floor(Math.min(o.headerTimeout, o.idleTimeout) / 4)),
  );
  const sweeper = setInterval(() => {
    const now = performance.now();
    for (const c of conns) {
      if (c.served !== c.seen) {
        c.seen = c.served;
        c.since = now;
      } else if (!c.closing && now - c.since > (c.served === 0 ? o.headerTimeout : o.idleTimeout)) {
        c.closing = true;
        c.shutdown();
      } else if (
        secure && c.closing && c.served === 0 && now - c.since > o.headerTimeout + 2 * tick
      ) {
        release(c); // shut down at least two sweeps ago and still open: stuck in its handshake
      }
    }
  }, tick);
  Deno.unrefTimer(sweeper);

  const serve = (conn: Deno.Conn) => {
    const remote = (conn.remoteAddr as Deno.NetAddr).hostname;
    try {
      if (fast && !o.websockets()) serveFast(conn, remote);
      else serveLegacy(conn, remote);
    } catch (e) {
      o.log.warn("could not serve a connection", { error: String(e) });
      try {
        conn.close();
      } catch { /* gone */ }
    }
  };

  let closed = false;
  const loop = (async () => {
    let pause = 0;
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
        pause = 0;
      } catch (e) {
        if (closed) return;
        // Out of file descriptors or memory: back off (up to 1 s) instead of spinning.
        if (pause === 0) o.log.warn("accept failed", { error: String(e) });
        pause = Math.min(1000, Math.max(10, pause * 2));
        await new Promise((r) => setTimeout(r, pause));
        continue;
      }
      if (conns.size >= o.connections) {
        conn.close();
        continue;
      }
      serve(conn);
    }
  })();

  const { promise: finished, resolve } = Promise.withResolvers<void>();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    finished,
    async shutdown() {
      if (!closed) {
        closed = true;
        listener.close();
        await loop;
        clearInterval(sweeper);
      }
      for (const c of conns) {
        c.closing = true;
        c.shutdown();
      }
      await Promise.all([...done]);
      resolve();
    },
  };
}
