/**
 * `/api/tokens` (admin only): the API tokens scripts use (`Authorization:
 * Bearer tern_…`), as `tern token` manages them from a shell.
 *
 * - `GET /api/tokens` → `{ tokens: [{ prefix, name, role, created, lastUsed? }] }`
 *   (only the hash of a token is stored; it is never shown again)
 * - `POST /api/tokens` `{ name, role }` → 201 `{ token, prefix, name, role }`: the secret, once
 * - `DELETE /api/tokens/:prefix` → 204, 404 when no token has that prefix
 *
 * Creating and revoking are audit events (`token.create`, `token.revoke`).
 */

import * as z from "../../lib/validate/mod.ts";
import { notFound } from "../../lib/web/mod.ts";
import type { WebDeps } from "../deps.ts";
import { auditor } from "./_audit.ts";

export function registerTokens(d: WebDeps): void {
  const { app, auth } = d;
  if (!auth) return;
  const record = auditor(d);
  const create = z.strictObject({
    name: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, "letters, digits and _ . @ - (1 to 64)"),
    role: z.string().refine((r) => app.roles.has(r), {
      message: `one of: ${app.roles.names().join(", ")}`,
    }),
  });

  app.get("/api/tokens", () =>
    Response.json({
      tokens: auth.store.listTokens().map(({ id: _, ...t }) => t),
    }), { role: "admin" });

  app.post("/api/tokens", async (_req, ctx) => {
    const body = await ctx.json(create);
    const { token, prefix } = await auth.createToken(body.name, body.role);
    record(ctx, {
      action: "token.create",
      target: `token:${body.name}`,
      details: { role: body.role, prefix },
    });
    return Response.json({ token, prefix, name: body.name, role: body.role }, { status: 201 });
  }, { role: "admin" });

  app.route("DELETE", "/api/tokens/:prefix", (_req, ctx) => {
    const prefix = ctx.params.prefix!;
    const hit = auth.store.listTokens().find((t) => t.prefix === prefix);
    if (!hit) throw notFound(`No token "${prefix}"`);
    auth.revokeToken(hit.id);
    record(ctx, { action: "token.revoke", target: `token:${hit.name}`, details: { prefix } });
    return new Response(null, { status: 204 });
  }, { role: "admin" });
}
