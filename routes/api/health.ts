/**
 * `GET /api/health` (public): 200 `{ok: true}` when every service runs,
 * 503 `{ok: false, failing: [...]}` otherwise. Only names and states are
 * shown (no error texts) since anyone may call it.
 */

import type { WebDeps } from "../deps.ts";

export function registerHealth(d: WebDeps): void {
  d.app.get("/api/health", () => {
    const services = d.status.services(false);
    const failing = services.filter((s) => s.state !== "running" && s.name !== "web")
      .map((s) => ({ name: s.name, state: s.state }));
    const body = { ok: failing.length === 0, services: services.length, failing };
    // No cache headers: an answer without validators or a lifetime is not stored by caches,
    // and a lone content type keeps it on the runtime's fastest send path.
    return failing.length === 0 ? Response.json(body) : Response.json(body, { status: 503 });
  });
}
