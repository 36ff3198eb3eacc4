/**
 * `GET /api/status` (role user): version, uptime, device id, and each
 * service's state (name, state, since, restarts, lastError, details), and
 * every cloud stream's spool (`spool`: backlog, oldest age, drops, last error).
 */

import { spoolStreamsOf } from "../../lib/cloud/spool_metrics.ts";
import type { WebDeps } from "../deps.ts";

export function registerStatus(d: WebDeps): void {
  d.app.get("/api/status", () => {
    const now = d.clock.now();
    const services = d.status.services();
    return Response.json({
      version: d.version,
      deviceId: d.deviceId ?? null,
      uptime: Math.round((now - d.startedAt) / 1000),
      time: new Date(now).toISOString(),
      services,
      spool: spoolStreamsOf(services),
      memory: { rss: Deno.memoryUsage().rss },
    });
  }, { role: "user" });
}
