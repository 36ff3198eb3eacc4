/**
 * Request limits: the size of the request line and headers (431), and the body size of a route
 * (413: refused at once when the declared length is over, counted while streaming otherwise).
 * Upload counts and sizes are checked where a form is read (`ctx.form()`).
 */

import { limitStream, tooLarge } from "../context.ts";
import { HttpError } from "../errors.ts";
import type { Middleware } from "./compose.ts";

/** Request line plus header bytes (name, value, ": " and CRLF per header). */
export function headerBytes(req: Request): number {
  let size = req.method.length + req.url.length;
  for (const [k, v] of req.headers) size += k.length + v.length + 4;
  return size;
}

/** 431 when the request line and headers exceed `max` bytes (app-wide, before routing). */
export function headerLimit(max: number): Middleware {
  return (req, ctx, next) => {
    if (headerBytes(req) > max) {
      throw new HttpError(431, "headers_too_large", `Request headers exceed ${max} bytes`);
    }
    return next(req, ctx);
  };
}

/**
 * The route's body limit: a declared `Content-Length` over `max` is refused before the handler
 * runs (the HTTP engine never delivers more bytes than a declared length); a body without one
 * (chunked) is counted as it streams, and its reader fails with 413 past `max`.
 * `ctx.limits.bodySize` becomes `max` for the context's own readers.
 */
export function bodyLimit(max: number): Middleware {
  return (req, ctx, next) => {
    const method = req.method;
    if (method === "GET" || method === "HEAD") return next(req, ctx);
    if (ctx.limits.bodySize !== max) ctx.limits = { ...ctx.limits, bodySize: max };
    // A declared length first: `req.body` would make the runtime set up a stream for nothing.
    const cl = req.headers.get("content-length");
    if (cl !== null) {
      if (Number(cl) > max) throw tooLarge(max);
      return next(req, ctx);
    }
    const body = req.body;
    if (body === null) return next(req, ctx);
    ctx.bodyCounted = true;
    const counted = new Request(req.url, {
      method,
      headers: req.headers,
      body: limitStream(body, max, ctx),
      signal: ctx.signal,
      // @ts-ignore: duplex is needed for a stream body and missing from the lib types
      duplex: "half",
    });
    ctx.req = counted;
    return next(counted, ctx);
  };
}
