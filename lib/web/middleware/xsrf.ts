/**
 * XSRF: a state-changing request (POST, PUT, PATCH, DELETE) authenticated by a session cookie
 * must carry the session's token in `X-XSRF-Token` (403 otherwise). Bearer-token requests need
 * none: a browser never adds a bearer token on its own.
 */

import { HttpError } from "../errors.ts";
import type { AuthSource } from "./auth.ts";
import type { Middleware } from "./compose.ts";

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Check the XSRF token of state-changing session requests (after `authenticate`). */
export function xsrf(app: AuthSource): Middleware {
  return (req, ctx, next) => {
    if (
      ctx.user?.via === "session" && UNSAFE.has(req.method) &&
      !app.authenticator!.checkXsrf(req, ctx)
    ) {
      throw new HttpError(403, "xsrf", "Missing or wrong X-XSRF-Token header");
    }
    return next(req, ctx);
  };
}
