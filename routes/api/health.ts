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

// A lone content type, as `Response.json` sets it: it keeps the answer on the runtime's fastest
// send path. No cache headers: an answer without validators or a lifetime is not stored.
const OK: ResponseInit = { headers: { "content-type": "application/json" } };
const FAILING: ResponseInit = { status: 503, headers: { "content-type": "application/json" } };

export function registerHealth(d: WebDeps): void {
  // Kept only while the source that reports changes is the one in use (tests swap `d.status`).
  const source = d.status;
  let current: _Health | undefined;
  const off = source.changes?.(() => current = undefined);
  if (off) d.closers?.push(off);
  d.app.get("/api/health", () => {
    const status = d.status;
    let h: _Health;
    if (off && status === source) h = current ??= build(status);
    else h = build(status);
    return new Response(h.body, h.init);
  });
}

function build(status: StatusSource): _Health {
  const services = status.services(false);
  const failing = services.filter((s) => s.state !== "running" && s.name !== "web")
    .map((s) => ({ name: s.name, state: s.state }));
  const body = { ok: failing.length === 0, services: services.length, failing };
  return { body: JSON.stringify(body), init: failing.length === 0 ? OK : FAILING };
}
