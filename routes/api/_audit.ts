/**
 * The routes' way to the audit trail (lib/cloud/audit): `audit(ctx, event)`
 * fills in the actor (the request's user or token, or the name a login tried)
 * and the source (the client's address), and records through the "audit"
 * service. Without that service (the database off, `audit.enabled: false`,
 * an app built by hand in a test) it does nothing.
 */

import type { AuditRecord, AuditService } from "../../lib/cloud/audit/mod.ts";
import type { AuditEvent } from "../../lib/db/mod.ts";
import type { WebContext } from "../../lib/web/mod.ts";
import type { WebDeps } from "../deps.ts";

/** What a route gives: the actor defaults to the request's user. */
export type RouteAudit = Omit<AuditRecord, "actor" | "source"> & {
  actor?: AuditRecord["actor"];
};

/** Record `event` for the request `ctx` (undefined: the agent itself). */
export type Auditor = (ctx: WebContext | undefined, event: RouteAudit) => AuditEvent | undefined;

/** Requests whose denial a route recorded itself (the 403 hook then records nothing more). */
export const deniedRecorded = new WeakSet<WebContext>();

/** The auditor of the app's deps. */
export function auditor(d: WebDeps): Auditor {
  return (ctx, event) => {
    const service = d.service?.("audit") as AuditService | undefined;
    if (!service) return undefined;
    const u = ctx?.user;
    const actor = event.actor ??
      (u
        ? u.via === "token"
          ? { type: "token" as const, id: u.username.replace(/^token:/, "") }
          : { type: "user" as const, id: u.username }
        : { type: "user" as const, id: "anonymous" });
    const e = service.record({ ...event, actor, source: ctx?.remoteAddr ?? "agent" });
    if (ctx && e.outcome === "denied") deniedRecorded.add(ctx);
    return e;
  };
}
