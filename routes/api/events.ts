/**
 * `GET /api/events?topics=status,logs,metrics` (role user; `logs` needs
 * admin, like `/api/logs`): the dashboard's live feed as server-sent events,
 * so the page never polls.
 *
 * - `status`: the `/api/status` body, at once and then every 2 s
 * - `logs`: an array of log records (as `/api/logs` gives them), first the
 *   last 200 of the ring, then each second the records written since
 * - `history` once (`{ interval, keys, samples }`, the last hour), then
 *   `sample` (`[t, …]` in the order of `keys`) as each is taken (every 5 s):
 *   see `_history.ts`
 *
 * One timer serves every client and runs only while one is connected; at
 * most 16 clients at once (503 beyond). Every 2 s each stream's session or
 * token is checked again: a logout, a disabled or removed user, a changed
 * role or a revoked token ends the stream (the page then shows the login). 400 names an unknown topic, 403 a
 * topic the role may not see.
 */

import { HttpError, SseStream, type WebContext } from "../../lib/web/mod.ts";
import type { LogRecord } from "../../lib/log/mod.ts";
import type { WebDeps } from "../deps.ts";
import { statusBody } from "./status.ts";

const TOPICS = ["status", "logs", "metrics"] as const;
type Topic = (typeof TOPICS)[number];
const MAX_CLIENTS = 16;
/** Ticks (of 1 s) between status events. */
const STATUS_EVERY = 2;

interface _Client {
  sse: SseStream;
  topics: Set<Topic>;
  ctx: WebContext;
  role: string;
  /** `ring.written` when this client last got the log records. */
  written: number;
}

const logJson = (r: LogRecord) => ({ ...r, time: new Date(r.time).toISOString() });

export function registerEvents(d: WebDeps): void {
  const clients = new Set<_Client>();
  let timer: ReturnType<typeof setInterval> | undefined;
  let tick = 0;
  let offHistory: (() => void) | undefined;

  const each = (topic: Topic, fn: (c: _Client) => void) => {
    for (const c of clients) if (c.topics.has(topic)) fn(c);
  };
  const onTick = () => {
    tick++;
    const ring = d.logs;
    if (ring) {
      // Each client gets what was written since its own mark (one JSON text per distinct mark).
      const batches = new Map<number, string>();
      each("logs", (c) => {
        const fresh = Math.min(ring.written - c.written, 200);
        c.written = ring.written;
        if (fresh <= 0) return;
        let data = batches.get(fresh);
        if (data === undefined) {
          batches.set(fresh, data = JSON.stringify(ring.entries({ limit: fresh }).map(logJson)));
        }
        c.sse.send({ event: "logs", data });
      });
    }
    if (tick % STATUS_EVERY === 0) {
      for (const c of clients) recheck(c);
      let data: string | undefined;
      each(
        "status",
        (c) => c.sse.send({ event: "status", data: data ??= JSON.stringify(statusBody(d)) }),
      );
    }
  };
  /** End the stream of a client whose session or token is no longer live (or changed role). */
  const recheck = (c: _Client) => {
    if (!d.auth) return;
    const end = (u: { role: string } | undefined) => {
      if (u?.role === c.role) return;
      c.sse.close();
      drop(c);
    };
    try {
      const u = d.auth.authenticate(c.ctx.req, c.ctx);
      if (u instanceof Promise) u.then(end, () => end(undefined));
      else end(u);
    } catch {
      end(undefined);
    }
  };
  const drop = (c: _Client) => {
    clients.delete(c);
    if (clients.size === 0) {
      clearInterval(timer);
      timer = undefined;
      offHistory?.();
      offHistory = undefined;
    }
  };

  d.closers?.push(() => {
    for (const c of clients) c.sse.close();
    clients.clear();
    clearInterval(timer);
    timer = undefined;
    offHistory?.();
  });

  d.app.get("/api/events", (_req, ctx) => {
    const raw = (ctx.url.searchParams.get("topics") ?? "status").split(",").filter(Boolean);
    const topics = new Set<Topic>();
    for (const t of raw) {
      if (!(TOPICS as readonly string[]).includes(t)) {
        throw new HttpError(400, "bad_query", `Unknown topic "${t}" (one of ${TOPICS.join(", ")})`);
      }
      topics.add(t as Topic);
    }
    if (topics.has("logs") && !d.app.roles.allows(ctx.user?.role, "admin")) {
      throw new HttpError(403, "forbidden", 'The "logs" topic needs the "admin" role');
    }
    if (clients.size >= MAX_CLIENTS) {
      throw new HttpError(503, "busy", "Too many live dashboards", {
        headers: { "retry-after": "5" },
      });
    }
    const sse = new SseStream(ctx.signal);
    const c: _Client = { sse, topics, ctx, role: ctx.user!.role, written: d.logs?.written ?? 0 };
    clients.add(c);
    ctx.signal.addEventListener("abort", () => drop(c), { once: true });
    if (!timer) {
      timer = setInterval(() => {
        for (const x of clients) if (x.sse.closed) drop(x);
        if (clients.size) onTick();
      }, 1000);
    }
    if (d.history && !offHistory) {
      offHistory = d.history.subscribe((s) => {
        const data = JSON.stringify(s);
        each("metrics", (x) => x.sse.send({ event: "sample", data }));
      });
    }
    sse.send({ retry: 3000, data: { topics: [...topics] }, event: "hello" });
    if (topics.has("status")) sse.send({ event: "status", data: statusBody(d) });
    if (topics.has("logs") && d.logs) {
      sse.send({ event: "logs", data: d.logs.entries({ limit: 200 }).map(logJson) });
    }
    if (topics.has("metrics")) {
      sse.send({
        event: "history",
        data: d.history?.snapshot() ?? { interval: 0, keys: [], samples: [] },
      });
    }
    return sse.response();
  }, { role: "user", timeout: 0 });
}
