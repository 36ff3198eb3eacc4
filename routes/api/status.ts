/**
 * `GET /api/status` (role user): version, uptime, device id, and each
 * service's state (name, state, since, restarts, lastError, details), and
 * every cloud stream's spool (`spool`: backlog, oldest age, drops, last error).
 * The same body is the `status` event of `/api/events`.
 */

import { spoolStreamsOf } from "../../lib/cloud/spool_metrics.ts";
import type { WebDeps } from "../deps.ts";

/** What `/api/status` answers. */
export function statusBody(d: WebDeps): Record<string, unknown> {
  const now = d.clock.now();
  const services = d.status.services();
  return {
    version: d.version,
    deviceId: d.deviceId ?? null,
    uptime: Math.round((now - d.startedAt) / 1000),
    time: new Date(now).toISOString(),
    services,
    spool: spoolStreamsOf(services),
    memory: { rss: Deno.memoryUsage().rss },
  };
}

export function registerStatus(d: WebDeps): void {
  d.app.get("/api/status", () => Response.json(statusBody(d)), { role: "user" });
}
