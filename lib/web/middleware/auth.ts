/**
 * Authentication and the role check of a route: resolves `ctx.user` from the session cookie or
 * bearer token (through the app's `Authenticator`, when it has one), then answers 401 when the
 * route needs a role and nobody logged in, 403 when the user's role does not include it.
 */

import type { Roles } from "../auth/roles.ts";
import type { WebContext, WebUser } from "../context.ts";
import { HttpError } from "../errors.ts";
import { type Handler, isPromise, type Middleware } from "./compose.ts";

/** Resolves who is calling; implemented by lib/web/auth on the database. */
export interface Authenticator {
  /** The user behind the request's session cookie or bearer token, if any. */
  authenticate(
    req: Request,
    ctx: WebContext,
  ): WebUser | undefined | Promise<WebUser | undefined>;
  /** True when the request carries the session's XSRF token. */
  checkXsrf(req: Request, ctx: WebContext): boolean;
}

/** Where the middleware finds the authenticator and roles (the app: both can change after). */
export interface AuthSource {
  readonly authenticator: Authenticator | undefined;
  readonly roles: Roles;
}

const LOGIN = { headers: { "www-authenticate": 'Bearer realm="tern"' } };

/** Resolve the caller, then require `role` ("public": anyone, the caller is still resolved). */
export function authenticate(app: AuthSource, role: string): Middleware {
  const check = (req: Request, ctx: WebContext, next: Handler) => {
    if (role !== "public") {
      const user = ctx.user;
      if (!user) throw new HttpError(401, "unauthorized", "Login required", LOGIN);
      if (!app.roles.allows(user.role, role)) {
        throw new HttpError(403, "forbidden", `This needs the "${role}" role`);
      }
    }
    return next(req, ctx);
  };
  return (req, ctx, next) => {
    const user = app.authenticator?.authenticate(req, ctx);
    if (!isPromise(user)) {
      ctx.user = user;
      return check(req, ctx, next);
    }
    return user.then((u) => {
      ctx.user = u;
      return check(req, ctx, next);
    });
  };
}
