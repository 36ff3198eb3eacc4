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
    const res = Response.json(
      { ok: failing.length === 0, services: services.length, failing },
      { status: failing.length === 0 ? 200 : 503 },
    );
    res.headers.append("cache-control", "no-store");
    return res;
  });
}
