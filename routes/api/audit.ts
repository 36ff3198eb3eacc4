/**
 * The audit trail over REST (admin role; docs/audit.md):
 *
 * - `GET /api/audit?action=auth.&actor=user:alice&outcome=failure&since=ISO&until=ISO&after=SEQ&limit=N&order=desc`
 *   → `{ events: [...], next?: SEQ }` (`action` ending in "." is a prefix;
 *   `actor` is `type` or `type:id`; `next` is the `after` of the next page)
 * - `GET /api/audit/verify` → `{ ok, checked, lastSeq, broken?: { seq, id, reason } }`
 * - `POST /api/audit` `{ action: "app.…", target?, outcome?, details? }` → 201 `{ event }`:
 *   the device's own events, recorded with the caller as actor
 *
 * 400 names a bad filter or event (nothing is recorded); 503 while the
 * "audit" service is not running.
 */

import type { AuditService } from "../../lib/cloud/audit/mod.ts";
import { HttpError } from "../../lib/web/mod.ts";
import type { WebDeps } from "../deps.ts";
import { auditor } from "./_audit.ts";

const FILTERS = new Set([
  "action",
  "actor",
  "outcome",
  "since",
  "until",
  "after",
  "limit",
  "order",
]);

export function registerAudit(d: WebDeps): void {
  const service = (): AuditService => {
    const s = d.service?.("audit") as AuditService | undefined;
    if (!s) {
      throw new HttpError(
        503,
        "audit_off",
        "The audit trail is off (audit.enabled) or not running",
      );
    }
    return s;
  };
  const bad = (message: string) => new HttpError(400, "bad_query", message);
  const time = (q: URLSearchParams, k: string): number | undefined => {
    const v = q.get(k);
    if (v === null) return undefined;
    const t = Date.parse(v);
    if (Number.isNaN(t)) throw bad(`${k} must be an ISO 8601 time, got "${v.slice(0, 50)}"`);
    return t;
  };

  d.app.get("/api/audit", (_req, ctx) => {
    const s = service();
    const q = ctx.url.searchParams;
    for (const k of q.keys()) {
      if (!FILTERS.has(k)) throw bad(`Unknown filter "${k}" (${[...FILTERS].join(", ")})`);
    }
    const limit = q.has("limit") ? Number(q.get("limit")) : 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw bad("limit must be 1 to 1000");
    const after = q.has("after") ? Number(q.get("after")) : undefined;
    if (after !== undefined && (!Number.isInteger(after) || after < 0)) {
      throw bad("after must be a seq (an integer ≥ 0)");
    }
    const order = q.get("order") ?? "asc";
    if (order !== "asc" && order !== "desc") throw bad('order must be "asc" or "desc"');
    const since = time(q, "since");
    const until = time(q, "until");
    const events = s.trail.log.list({
      limit: limit + 1,
      reverse: order === "desc",
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
      ...(after !== undefined ? { after } : {}),
      ...(q.get("action") ? { action: q.get("action")! } : {}),
      ...(q.get("actor") ? { actor: q.get("actor")! } : {}),
      ...(q.get("outcome") ? { outcome: q.get("outcome")! } : {}),
    });
    const more = events.length > limit;
    if (more) events.length = limit;
    return Response.json({ events, ...(more ? { next: events.at(-1)!.seq } : {}) });
  }, { role: "admin" });

  d.app.get("/api/audit/verify", () => Response.json(service().trail.log.verify()), {
    role: "admin",
  });

  const record = auditor(d);
  d.app.post("/api/audit", async (_req, ctx) => {
    service();
    const body = await ctx.json();
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new HttpError(
        400,
        "invalid",
        "Body must be a JSON object { action, target?, outcome?, details? }",
      );
    }
    const { action, target, outcome, details, ...extra } = body as Record<string, unknown>;
    const unknown = Object.keys(extra)[0];
    if (unknown) throw new HttpError(400, "invalid", `Unknown key "${unknown}"`);
    if (typeof action !== "string" || !action.startsWith("app.")) {
      throw new HttpError(400, "invalid", 'action must be a string starting with "app."');
    }
    let event;
    try {
      event = record(ctx, {
        action,
        ...(target !== undefined ? { target: target as string } : {}),
        ...(outcome !== undefined ? { outcome: outcome as "success" } : {}),
        ...(details !== undefined ? { details: details as Record<string, unknown> } : {}),
      });
    } catch (e) {
      if (e instanceof TypeError) throw new HttpError(400, "invalid", e.message);
      throw e;
    }
    return Response.json({ event }, { status: 201 });
  }, { role: "admin" });
}
