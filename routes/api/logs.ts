/**
 * `GET /api/logs?level=warn&source=web&limit=200` (admin): the most recent
 * log records from the in-memory ring, oldest first, already redacted.
 */

import { HttpError } from "../../lib/web/mod.ts";
import type { WebDeps } from "../deps.ts";

const LEVELS = ["debug", "info", "warn", "error"] as const;

export function registerLogs(d: WebDeps): void {
  const ring = d.logs;
  if (!ring) return;
  d.app.get("/api/logs", (_req, ctx) => {
    const q = ctx.url.searchParams;
    const level = q.get("level") ?? undefined;
    if (level !== undefined && !(LEVELS as readonly string[]).includes(level)) {
      throw new HttpError(400, "bad_query", `level must be one of ${LEVELS.join(", ")}`);
    }
    const limit = Number(q.get("limit") ?? 200);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
      throw new HttpError(400, "bad_query", "limit must be 1 to 10000");
    }
    const entries = ring.entries({
      ...(level ? { level: level as (typeof LEVELS)[number] } : {}),
      ...(q.get("source") ? { source: q.get("source")! } : {}),
      limit,
    });
    return Response.json({
      entries: entries.map((r) => ({ ...r, time: new Date(r.time).toISOString() })),
    });
  }, { role: "admin" });
}
