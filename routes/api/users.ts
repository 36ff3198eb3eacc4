/**
 * `/api/users` (admin only): list, create, read, change (role, name,
 * password, disabled) and remove users. Changing a user's password, role or
 * disabled flag, or removing them, ends their sessions. An admin cannot
 * remove, demote or disable themselves (so the device keeps an admin).
 */

import * as z from "../../lib/validate/mod.ts";
import { badRequest, hashPassword, HttpError, notFound, USER_NAME } from "../../lib/web/mod.ts";
import type { WebDeps } from "../deps.ts";
import { auditor } from "./_audit.ts";

export function registerUsers(d: WebDeps): void {
  const { app, auth } = d;
  if (!auth) return;
  const audit = d.log.child("audit");
  const record = auditor(d);
  const db = d.db!;
  const roleName = z.string().refine((r) => app.roles.has(r), {
    message: `one of: ${app.roles.names().join(", ")}`,
  });
  const create = z.strictObject({
    username: z.string().regex(USER_NAME, "letters, digits and _ . @ - (1 to 64)"),
    password: z.string().min(8, "at least 8 characters").max(1024),
    role: roleName,
    name: z.string().max(200).optional(),
  });
  const change = z.strictObject({
    password: z.string().min(8, "at least 8 characters").max(1024).optional(),
    role: roleName.optional(),
    name: z.string().max(200).nullable().optional(),
    disabled: z.boolean().optional(),
  });

  app.get("/api/users", () => Response.json({ users: auth.store.listUsers() }), { role: "admin" });

  app.post("/api/users", async (_req, ctx) => {
    const body = await ctx.json(create);
    if (auth.store.getUser(body.username)) {
      throw new HttpError(409, "exists", `User "${body.username}" already exists`);
    }
    const passwordHash = await hashPassword(body.password, d.config().web.auth.iterations);
    const user = db.transaction(() => {
      const u = auth.store.createUser({
        username: body.username,
        role: body.role,
        passwordHash,
        ...(body.name ? { name: body.name } : {}),
      });
      record(ctx, {
        action: "user.create",
        target: `user:${u.username}`,
        details: { role: u.role, ...(body.name ? { name: body.name } : {}) },
      });
      return u;
    });
    audit.info("user created", { by: ctx.user?.username, user: user.username, role: user.role });
    return Response.json({ user }, { status: 201 });
  }, { role: "admin" });

  app.get("/api/users/:username", (_req, ctx) => {
    const u = auth.store.getUser(ctx.params.username!);
    if (!u) throw notFound(`No user "${ctx.params.username}"`);
    const { passwordHash: _, ...user } = u;
    return Response.json({ user });
  }, { role: "admin" });

  app.route("PATCH", "/api/users/:username", async (_req, ctx) => {
    const name = ctx.params.username!;
    const body = await ctx.json(change);
    if (!auth.store.getUser(name)) throw notFound(`No user "${name}"`);
    const self = name === ctx.user?.username;
    if (self && (body.disabled === true || (body.role && body.role !== ctx.user?.role))) {
      throw badRequest("You cannot disable yourself or change your own role");
    }
    const patch: Record<string, unknown> = {};
    if (body.role) patch.role = body.role;
    if (body.name !== undefined) patch.name = body.name;
    if (body.disabled !== undefined) patch.disabled = body.disabled;
    if (body.password) {
      patch.passwordHash = await hashPassword(body.password, d.config().web.auth.iterations);
    }
    const fields = Object.keys(body).filter((k) => k !== "password").concat(
      body.password ? ["password"] : [],
    );
    const user = db.transaction(() => {
      const u = auth.store.updateUser(name, patch);
      if (body.password || body.role || body.disabled) auth.logoutUser(name);
      record(ctx, {
        action: body.role ? "user.role" : "user.update",
        target: `user:${name}`,
        details: {
          fields,
          ...(body.role ? { role: body.role } : {}),
          ...(body.disabled !== undefined ? { disabled: body.disabled } : {}),
        },
      });
      return u;
    });
    audit.info("user changed", { by: ctx.user?.username, user: name, fields });
    return Response.json({ user });
  }, { role: "admin" });

  app.route("DELETE", "/api/users/:username", (_req, ctx) => {
    const name = ctx.params.username!;
    if (name === ctx.user?.username) throw badRequest("You cannot remove yourself");
    if (!auth.store.getUser(name)) throw notFound(`No user "${name}"`);
    db.transaction(() => {
      auth.store.removeUser(name);
      auth.logoutUser(name);
      record(ctx, { action: "user.remove", target: `user:${name}` });
    });
    audit.info("user removed", { by: ctx.user?.username, user: name });
    return new Response(null, { status: 204 });
  }, { role: "admin" });
}
