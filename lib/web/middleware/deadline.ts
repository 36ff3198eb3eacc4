/**
 * The route's deadline: a handler still working after `ms` is aborted through `ctx.signal` and
 * answered 408 when it was still reading a slow request body (the client's fault), 503 with
 * `Retry-After` otherwise. A synchronous answer needs no timer.
 */

import { errorJson, toErrorResponse } from "../errors.ts";
import type { WebContext } from "../context.ts";
import { isPromise, type Middleware } from "./compose.ts";

/** Race the rest of the chain against `ms` milliseconds. */
export function deadline(ms: number): Middleware {
  return (req, ctx, next) => {
    const result = next(req, ctx);
    return isPromise(result) ? race(result, ctx, ms) : result;
  };
}

function race(result: Promise<Response>, ctx: WebContext, ms: number): Promise<Response> {
  const { promise, resolve } = Promise.withResolvers<Response>();
  const timer = setTimeout(() => {
    const slowBody = ctx.bodyPending;
    ctx.abort(new DOMException("Request timed out", "TimeoutError"));
    resolve(
      slowBody
        ? errorJson(408, "request_timeout", "The request body arrived too slowly")
        : errorJson(503, "timeout", `The handler took longer than ${ms} ms`, {
          headers: { "retry-after": "1" },
        }),
    );
  }, ms);
  result.then((r) => {
    clearTimeout(timer);
    resolve(r);
  }, (e) => {
    clearTimeout(timer);
    resolve(toErrorResponse(e, ctx.log, `${ctx.req.method} ${ctx.route}`));
  });
  return promise;
}
