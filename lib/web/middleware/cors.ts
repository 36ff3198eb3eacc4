/**
 * CORS for the routes that opt in (`{ cors: true }`, with `web.cors`): an allowed `Origin`
 * (exact match, or `*` in the list) gets `Access-Control-Allow-Origin` (the origin itself, with
 * `Vary: Origin`), and a preflight `OPTIONS` gets the allowed methods and request headers. A
 * disallowed origin gets no CORS headers, so the browser blocks it.
 */

import { mapResponse, type Middleware } from "./compose.ts";

/** CORS options (from `web.cors`). */
export interface CorsOptions {
  /** Allowed origins ("https://app.example.com"); "*" allows any. */
  origins: string[];
  /** Allow cookies and Authorization (never combined with a wildcard reply). */
  credentials: boolean;
  /** Preflight cache in seconds. */
  maxAge: number;
}

export class Cors {
  readonly #any: boolean;
  readonly #origins: Set<string>;

  constructor(readonly options: CorsOptions) {
    this.#any = options.origins.includes("*");
    this.#origins = new Set(options.origins);
  }

  allowed(origin: string | null): origin is string {
    return origin !== null && (this.#any || this.#origins.has(origin));
  }

  /** Headers for a simple or actual request from `origin`. */
  headers(origin: string): Record<string, string> {
    const h: Record<string, string> = {
      "access-control-allow-origin": origin,
      "vary": "Origin",
    };
    if (this.options.credentials) h["access-control-allow-credentials"] = "true";
    return h;
  }

  /** A preflight answer for `origin` and the route's methods. */
  preflight(req: Request, origin: string, methods: string[]): Response {
    const h = this.headers(origin);
    h["access-control-allow-methods"] = methods.join(", ");
    const asked = req.headers.get("access-control-request-headers");
    if (asked) h["access-control-allow-headers"] = asked;
    h["access-control-max-age"] = String(this.options.maxAge);
    h["allow"] = methods.join(", ");
    return new Response(null, { status: 204, headers: h });
  }

  /** The middleware: CORS headers on answers to allowed origins. */
  middleware(): Middleware {
    return (req, ctx, next) => {
      const origin = req.headers.get("origin");
      if (!this.allowed(origin)) return next(req, ctx);
      const extra = this.headers(origin);
      return mapResponse(next(req, ctx), (res) => withHeaders(res, extra));
    };
  }
}

/** Add headers to a response, copying it when its headers are immutable. */
export function withHeaders(res: Response, headers: Record<string, string>): Response {
  try {
    for (const k in headers) res.headers.set(k, headers[k]!);
    return res;
  } catch {
    const copy = new Response(res.body, res);
    for (const k in headers) copy.headers.set(k, headers[k]!);
    return copy;
  }
}
