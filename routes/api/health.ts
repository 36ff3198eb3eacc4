/**
 * `GET /api/health` (public): 200 `{ok: true}` when every service runs,
 * 503 `{ok: false, failing: [...]}` otherwise. Only names and states are
 * shown (no error texts) since anyone may call it.
 *
 * The answer's JSON text is built once and again only after a service's state
 * changed (the agent's state events, `status.changes`); each request gets a
 * new `Response` of that text. A status source without events (a hand-built
 * app) is read on every request.
 */

import type { StatusSource, WebDeps } from "../deps.ts";

/** The answer of the current states: its JSON text and status. */
interface _Health {
  body: string;
  init: ResponseInit;
}

export function registerHealth(d: WebDeps): void {
  // The answer's headers, decided here once: its type and what the security headers would add
  // to a public data answer (nothing by default, nosniff under scope "all"). Complete, it is
  // marked `ctx.secured` and left as it is: the runtime keeps it on its fastest send path (a
  // lone content type, untouched). No cache headers: an answer without validators or a lifetime
  // is not stored.
  const headers: Record<string, string> = { "content-type": "application/json" };
  for (const [k, v] of d.app.securityHeaders.dataHeaders(false)) headers[k] = v;
  const ok: ResponseInit = { headers };
  const failing: ResponseInit = { status: 503, headers };
  const build = (status: StatusSource): _Health => {
    const services = status.services(false);
    const down = services.filter((s) => s.state !== "running" && s.name !== "web")
      .map((s) => ({ name: s.name, state: s.state }));
    const body = { ok: down.length === 0, services: services.length, failing: down };
    return { body: JSON.stringify(body), init: down.length === 0 ? ok : failing };
  };
  // Kept only while the source that reports changes is the one in use (tests swap `d.status`).
  const source = d.status;
  let current: _Health | undefined;
  const off = source.changes?.(() => current = undefined);
  if (off) d.closers?.push(off);
  d.app.get("/api/health", (_req, ctx) => {
    const status = d.status;
    let h: _Health;
    if (off && status === source) h = current ??= build(status);
    else h = build(status);
    if (ctx.user === undefined) ctx.secured = true; // (a logged-in caller's gets no-store)
    return new Response(h.body, h.init);
  });
}
