/**
 * `/api/auth`: first-run setup, login, logout, who am I.
 *
 * - `POST /api/auth/setup` `{token, username, password}` → 201: creates the
 *   first admin with the one-time token the agent logged at start (only while
 *   no user exists), and logs them in.
 * - `POST /api/auth/login` JSON `{username, password}` or a form → 200
 *   `{user, xsrf}` + session cookie; 401 on bad credentials; 429 with
 *   Retry-After while throttled or locked out.
 * - `POST /api/auth/logout` → 204 and a cleared cookie.
 * - `GET /api/auth/me` → `{user, xsrf}` (xsrf only for cookie sessions), 401 when not logged in.
 *
 * Every login success and failure is an audit event (log source "web.audit").
 */

import * as z from "../../lib/validate/mod.ts";
import {
  hashPassword,
  HttpError,
  timingSafeEqual,
  unauthorized,
  USER_NAME,
  verifyPassword,
  type WebContext,
} from "../../lib/web/mod.ts";
import type { WebDeps } from "../deps.ts";
import { auditor } from "./_audit.ts";

const credentials = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
});

const setupBody = z.strictObject({
  token: z.string().min(1).max(200),
  username: z.string().regex(USER_NAME, "letters, digits and _ . @ - (1 to 64)"),
  password: z.string().min(8, "at least 8 characters").max(1024),
  name: z.string().max(200).optional(),
});

async function readCredentials(ctx: WebContext): Promise<{ username: string; password: string }> {
  const type = ctx.req.headers.get("content-type") ?? "";
  if (/^application\/json/i.test(type)) return credentials.parse(await ctx.json());
  const form = await ctx.form();
  return credentials.parse({ username: form.get("username"), password: form.get("password") });
}

/**
 * Login and setup act with a password, not with the session: no XSRF token,
 * but a cross-site form post (login CSRF) is refused by its Origin.
 */
function sameOrigin(ctx: WebContext): void {
  const origin = ctx.req.headers.get("origin");
  if (origin === null || origin === "null") return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    host = "";
  }
  if (host !== ctx.req.headers.get("host") && host !== ctx.url.host) {
    throw new HttpError(403, "cross_origin", "Cross-site login is not allowed");
  }
}

/** Password hashes computed at once; more logins wait for a 503 + Retry-After (CPU bound on a Pi). */
const MAX_HASHING = 4;

export function registerAuth(d: WebDeps): void {
  const { app, auth, throttle, db } = d;
  if (!auth || !throttle || !db) return;
  const audit = d.log.child("audit");
  const record = auditor(d);
  let hashing = 0;
  const hashSlot = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (hashing >= MAX_HASHING) {
      throw new HttpError(503, "busy", "Too many logins at once", {
        headers: { "retry-after": "1" },
      });
    }
    hashing++;
    try {
      return await fn();
    } finally {
      hashing--;
    }
  };

  app.post("/api/auth/setup", async (_req, ctx) => {
    sameOrigin(ctx);
    const body = await ctx.json(setupBody);
    const setup = d.setup;
    const valid = setup.token !== undefined && d.clock.now() < setup.expires &&
      timingSafeEqual(body.token, setup.token);
    if (!valid || auth.store.userCount() > 0) {
      audit.warn("setup refused", { addr: ctx.remoteAddr });
      record(ctx, {
        actor: { type: "user", id: body.username },
        action: "auth.setup",
        target: `user:${body.username}`,
        outcome: "denied",
      });
      throw new HttpError(403, "setup_refused", "Setup is closed or the token is wrong");
    }
    // Spend the token before the first await: a concurrent second setup must fail.
    const token = setup.token;
    setup.token = undefined;
    let user;
    try {
      const passwordHash = await hashPassword(body.password, d.config().web.auth.iterations);
      user = db.transaction(() => {
        const u = auth.store.createUser({
          username: body.username,
          role: "admin",
          passwordHash,
          ...(body.name ? { name: body.name } : {}),
        });
        record(ctx, {
          actor: { type: "user", id: u.username },
          action: "auth.setup",
          target: `user:${u.username}`,
          details: { role: "admin" },
        });
        return u;
      });
    } catch (e) {
      setup.token = token;
      throw e;
    }
    audit.info("setup: first admin created", { user: user.username, addr: ctx.remoteAddr });
    const { setCookie, xsrf } = await auth.login(user.username, user.role, ctx);
    const res = Response.json({ user, xsrf }, { status: 201 });
    res.headers.append("set-cookie", setCookie);
    res.headers.append("cache-control", "no-store");
    return res;
  }, { xsrf: false });

  app.post("/api/auth/login", async (_req, ctx) => {
    sameOrigin(ctx);
    const { username, password } = await readCredentials(ctx);
    const addr = ctx.remoteAddr;
    const wait = throttle.wait(username, addr);
    if (wait > 0) {
      const locked = throttle.locked(username, addr);
      audit.warn("login throttled", { user: username, addr, locked, waitMs: wait });
      record(ctx, {
        actor: { type: "user", id: username },
        action: "auth.login",
        target: `user:${username}`,
        outcome: "denied",
        details: { reason: locked ? "locked_out" : "throttled", waitMs: wait },
      });
      throw new HttpError(
        429,
        locked ? "locked_out" : "too_fast",
        locked ? "Too many failed logins: try again later" : "Wait before trying again",
        { headers: { "retry-after": String(Math.ceil(wait / 1000)) } },
      );
    }
    const cfg = d.config().web;
    const user = auth.store.getUser(username);
    const check = await hashSlot(() =>
      verifyPassword(password, user?.passwordHash, cfg.auth.iterations)
    );
    if (!user || !check.ok || user.disabled) {
      throttle.failure(username, addr);
      const reason = !user ? "unknown_user" : user.disabled && check.ok ? "disabled" : "password";
      audit.warn("login failed", { user: username, addr, reason });
      record(ctx, {
        actor: { type: "user", id: username },
        action: "auth.login",
        target: `user:${username}`,
        outcome: "failure",
        details: { reason },
      });
      throw unauthorized("Wrong user name or password");
    }
    throttle.success(username, addr);
    const patch: { lastLogin: string; passwordHash?: string } = {
      lastLogin: new Date(d.clock.now()).toISOString(),
    };
    if (check.needsRehash) patch.passwordHash = await hashPassword(password, cfg.auth.iterations);
    db.transaction(() => {
      auth.store.updateUser(user.username, patch);
      record(ctx, {
        actor: { type: "user", id: user.username },
        action: "auth.login",
        target: `user:${user.username}`,
        details: { role: user.role },
      });
    });
    audit.info("login", { user: user.username, addr, role: user.role });
    const { setCookie, xsrf } = await auth.login(user.username, user.role, ctx);
    const { passwordHash: _, ...info } = user;
    const res = Response.json({ user: info, xsrf });
    res.headers.append("set-cookie", setCookie);
    res.headers.append("cache-control", "no-store");
    return res;
  }, { bodySize: 16 * 1024, xsrf: false, auth: true });

  app.post("/api/auth/logout", (_req, ctx) => {
    if (ctx.sessionKey) {
      const key = ctx.sessionKey;
      db.transaction(() => {
        auth.logout(key);
        record(ctx, { action: "auth.logout", target: `user:${ctx.user?.username}` });
      });
      audit.info("logout", { user: ctx.user?.username, addr: ctx.remoteAddr });
    }
    const res = new Response(null, { status: 204 });
    res.headers.append("set-cookie", auth.clearCookie(ctx.secure));
    return res;
  }, { role: "user" });

  app.get("/api/auth/me", (_req, ctx) => {
    if (!ctx.user) throw unauthorized();
    const user = ctx.user.via === "session" ? auth.store.getUser(ctx.user.username) : undefined;
    const out: Record<string, unknown> = {
      user: user
        ? { username: user.username, role: user.role, name: user.name ?? null }
        : { username: ctx.user.username, role: ctx.user.role },
      via: ctx.user.via,
    };
    if (ctx.user.via === "session") out.xsrf = ctx.xsrf;
    return Response.json(out); // private: the app adds no-store to every logged-in answer
  }, { auth: true });

  app.get("/api/auth/setup", () => Response.json({ needed: auth.store.userCount() === 0 }));
}
