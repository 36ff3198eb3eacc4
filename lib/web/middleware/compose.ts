/**
 * Middleware: `(req, ctx, next) => Response | Promise<Response>`, where `next(req, ctx)` runs the
 * rest of the chain (a middleware may pass on a different request, e.g. one whose body is
 * counted). A chain is composed once, when its route is added, into one handler: a request
 * allocates nothing for it, and a chain whose parts all answer synchronously stays synchronous
 * (the runtime's fast path). Errors are thrown (an `HttpError` for the client); the app's one
 * error boundary turns them into responses.
 */

import type { WebContext } from "../context.ts";

/** A route handler. */
export type Handler = (req: Request, ctx: WebContext) => Response | Promise<Response>;

/** One concern of the request path (limits, auth, XSRF, CORS, deadline…). */
export type Middleware = (
  req: Request,
  ctx: WebContext,
  next: Handler,
) => Response | Promise<Response>;

/** A handler's answer is a promise (anything else is checked as a Response by the app). */
export function isPromise<T>(r: T | Promise<T>): r is Promise<T> {
  return typeof (r as { then?: unknown } | null | undefined)?.then === "function";
}

/** `fn` applied to a response now, or when it arrives. */
export function mapResponse(
  r: Response | Promise<Response>,
  fn: (res: Response) => Response,
): Response | Promise<Response> {
  return isPromise(r) ? r.then(fn) : fn(r);
}

/** The middlewares, outermost first, and the handler as one handler. */
export function compose(middlewares: readonly Middleware[], handler: Handler): Handler {
  let next = handler;
  for (let i = middlewares.length - 1; i >= 0; i--) {
    const mw = middlewares[i]!;
    const inner = next;
    next = (req, ctx) => mw(req, ctx, inner);
  }
  return next;
}
