/**
 * Device Shadows over REST, from the device's local copy (works offline):
 *
 * - `GET /api/shadow` (user): every configured shadow's status
 * - `GET /api/shadow/:name` (user): `{ name, desired, reported, delta, version, pending, status }`
 * - `PATCH /api/shadow/:name` (admin): `{ reported?: {...}, desired?: {...} }`, `null`
 *   deletes a field; stored at once, sent when online; 400 names the limit
 *   or value refused and nothing changes
 *
 * 404 for a shadow not in `cloud.shadow.shadows`, 503 while the
 * "cloud.shadow" service is not running.
 */

import type { ShadowService } from "../../lib/cloud/shadow/mod.ts";
import { HttpError } from "../../lib/web/mod.ts";
import type { WebDeps } from "../deps.ts";

export function registerShadow(d: WebDeps): void {
  const service = (): ShadowService => {
    const s = d.service?.("cloud.shadow") as ShadowService | undefined;
    if (!s) {
      throw new HttpError(
        503,
        "shadow_off",
        "Shadows are off (cloud.shadow.enabled) or not running",
      );
    }
    return s;
  };
  const shadow = (name: string) => {
    const s = service();
    if (!s.has(name)) {
      throw new HttpError(
        404,
        "not_found",
        `No shadow "${name}" (configured: ${s.names().join(", ") || "none"})`,
      );
    }
    return s.get(name);
  };
  const view = (name: string) => {
    const s = shadow(name);
    return { name, ...s.get(), status: s.status() };
  };

  d.app.get("/api/shadow", () => {
    const s = service();
    return Response.json({ shadows: s.names().map((n) => ({ name: n, ...s.get(n).status() })) });
  }, { role: "user" });

  d.app.get("/api/shadow/:name", (_req, ctx) => Response.json(view(ctx.params.name!)), {
    role: "user",
  });

  d.app.route("PATCH", "/api/shadow/:name", async (_req, ctx) => {
    const name = ctx.params.name!;
    const s = shadow(name);
    const body = await ctx.json();
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new HttpError(400, "invalid", "Body must be a JSON object { reported?, desired? }");
    }
    const extra = Object.keys(body).filter((k) => k !== "reported" && k !== "desired");
    if (extra.length) {
      throw new HttpError(
        400,
        "invalid",
        `Unknown key "${extra[0]}" (expected "reported", "desired")`,
      );
    }
    const { reported, desired } = body as { reported?: unknown; desired?: unknown };
    try {
      s.update((reported ?? {}) as Record<string, unknown>, {
        ...(desired !== undefined ? { desired: desired as Record<string, unknown> } : {}),
      });
    } catch (e) {
      if (e instanceof TypeError || e instanceof RangeError) {
        throw new HttpError(400, "invalid", e.message);
      }
      throw e;
    }
    return Response.json(view(name));
  }, { role: "admin" });
}
