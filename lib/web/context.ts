/**
 * What a handler gets beside the `Request`: route parameters (decoded), the
 * client address, the logged-in user, an abort signal, and body readers that
 * enforce the body size limit while streaming (413) and the upload limits.
 *
 * ```ts
 * web.route("POST", "/api/led", async (req, ctx) => {
 *   const { on } = await ctx.json(z.object({ on: z.boolean() }));
 *   return Response.json({ on });
 * }, { role: "user" });
 * ```
 */

import type { Logger } from "../log/mod.ts";
import { badRequest, HttpError } from "./errors.ts";
import { utf8Strict } from "./_text.ts";

/** The authenticated principal of a request. */
export interface WebUser {
  id: string;
  username: string;
  role: string;
  /** How the request authenticated. */
  via: "session" | "token";
}

/** Anything with a `parse` method: a lib/validate schema, or a zod schema. */
export interface Parser<T> {
  parse(data: unknown): T;
}

/** Limits the context enforces on the request body. */
export interface BodyLimits {
  bodySize: number;
  uploadCount: number;
  uploadSize: number;
}

const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

/** What every request's context shares with its app (one object per app). */
export interface ContextShared {
  readonly log: Logger;
  readonly limits: BodyLimits;
  /** Where controllers of live requests are kept (so a server close can abort them). */
  readonly live: Set<AbortController>;
}

export class WebContext {
  /** Route parameters, percent-decoded (read-only). `*` holds the tail of a prefix route. */
  params: Readonly<Record<string, string>> = NO_PARAMS;
  /** The route pattern that matched ("/api/data/:model"), or "" when none did. */
  route = "";
  user: WebUser | undefined;
  /** Session id hash when logged in by cookie (for logout, XSRF). */
  sessionKey: string | undefined;
  /** The session's XSRF token when logged in by cookie. */
  xsrf: string | undefined;
  /** Set when the body is being read (a timeout then answers 408, not 503). */
  bodyPending = false;
  /** @internal `req`'s body is already counted against the limit (a chunked body). */
  bodyCounted = false;
  /**
   * The answer carries every security header it needs already, and its own `Cache-Control` (the
   * static site builds them into its precomputed answers, the item read its `no-store`): the
   * security-headers middleware then adds only what TLS calls for (HSTS).
   */
  secured = false;
  /** Limits on the request body (the route's body size, the app's upload limits). */
  limits: BodyLimits;
  /** @internal The app's record of the matched route (its metrics). */
  slot: object | undefined;
  readonly log: Logger;
  /** Client address (IP without port). */
  readonly remoteAddr: string;
  /** True when the request came over TLS. */
  readonly secure: boolean;
  #url: URL | undefined;
  #ac: AbortController | undefined;
  #state: Record<string, unknown> | undefined;
  readonly #live: Set<AbortController>;

  constructor(
    /** The request (a body-limit middleware may replace it with one whose body is counted). */
    public req: Request,
    info: { remoteAddr: string; secure: boolean },
    shared: ContextShared,
    /** The path part of the URL, raw. */
    readonly path: string,
    /**
     * When the request arrived, in ms since the epoch, on the app's clock (read once per
     * request: session expiry and caches use it instead of asking the clock again).
     */
    readonly now: number = Date.now(),
  ) {
    this.remoteAddr = info.remoteAddr;
    this.secure = info.secure;
    this.log = shared.log;
    this.limits = shared.limits;
    this.#live = shared.live;
  }

  /** Per-request scratch space for middleware and handlers. */
  get state(): Record<string, unknown> {
    return this.#state ??= {};
  }

  /** A request header, like `req.headers.get(name)`. */
  header(name: string): string | null {
    return this.req.headers.get(name);
  }

  /** The parsed URL (created on first use). */
  get url(): URL {
    return this.#url ??= new URL(this.req.url);
  }

  /** Aborts when the request times out or the client goes away. */
  get signal(): AbortSignal {
    if (!this.#ac) {
      const ac = this.#ac = new AbortController();
      const live = this.#live;
      live.add(ac);
      ac.signal.addEventListener("abort", () => live.delete(ac), { once: true });
    }
    return this.#ac.signal;
  }

  /** @internal The controller, when `signal` was used. */
  get controller(): AbortController | undefined {
    return this.#ac;
  }

  /** @internal */
  abort(reason: unknown): void {
    this.#ac?.abort(reason);
  }

  /** The request body as a stream of at most `limits.bodySize` bytes (413 beyond). */
  stream(): ReadableStream<Uint8Array> {
    const body = this.req.body;
    if (!body) return new ReadableStream({ start: (c) => c.close() });
    return this.bodyCounted ? body : limitStream(body, this.limits.bodySize, this);
  }

  /**
   * The whole body as bytes (bounded by `limits.bodySize`). A body of a declared length within
   * the limit is read whole by the runtime (`Request.bytes()`: the HTTP engine never delivers
   * more than a declared length); a chunked one is counted as it streams.
   */
  async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    const req = this.req;
    // (Not `req.body`: reading it makes the runtime set up a stream the whole read does without.)
    const declared = this.bodyCounted ? null : req.headers.get("content-length");
    if (declared !== null && /^\d{1,15}$/.test(declared)) {
      if (Number(declared) > this.limits.bodySize) throw tooLarge(this.limits.bodySize);
      this.bodyPending = true; // a slow body is the client's fault (408)
      let whole: Uint8Array<ArrayBuffer>;
      try {
        whole = await req.bytes();
      } finally {
        this.bodyPending = false;
      }
      // Over the wire the engine holds the body to its length; an in-process Request may not.
      if (whole.length > this.limits.bodySize) throw tooLarge(this.limits.bodySize);
      return whole;
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const c of this.stream()) {
      chunks.push(c);
      size += c.length;
    }
    const out = new Uint8Array(size);
    let off = 0;
    for (const c of chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }

  async text(): Promise<string> {
    const bytes = await this.bytes();
    try {
      return utf8Strict.decode(bytes);
    } catch {
      throw badRequest("Request body is not valid UTF-8");
    }
  }

  /** The body parsed as JSON (415 unless the content type is JSON; 400 on bad JSON), then by `schema`. */
  async json<T = unknown>(schema?: Parser<T>): Promise<T> {
    const type = this.req.headers.get("content-type") ?? "";
    if (!/^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i.test(type)) {
      throw new HttpError(
        415,
        "unsupported_media_type",
        'Expected "content-type: application/json"',
      );
    }
    const text = await this.text();
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw badRequest(`Request body is not valid JSON: ${(e as Error).message}`);
    }
    return schema ? schema.parse(data) : data as T;
  }

  /**
   * A form body (urlencoded or multipart), bounded by `limits.bodySize`, with at
   * most `limits.uploadCount` files of `limits.uploadSize` bytes each (413 beyond).
   */
  async form(): Promise<FormData> {
    const type = this.req.headers.get("content-type") ?? "";
    if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(type)) {
      throw new HttpError(
        415,
        "unsupported_media_type",
        'Expected a form ("application/x-www-form-urlencoded" or "multipart/form-data")',
      );
    }
    const bytes = await this.bytes();
    let form: FormData;
    try {
      form = await new Response(bytes, { headers: { "content-type": type } }).formData();
    } catch {
      throw badRequest("Malformed form body");
    }
    let files = 0;
    for (const [, v] of form) {
      if (typeof v === "string") continue;
      if (++files > this.limits.uploadCount) {
        throw new HttpError(413, "too_many_uploads", `More than ${this.limits.uploadCount} files`);
      }
      if (v.size > this.limits.uploadSize) {
        throw new HttpError(
          413,
          "upload_too_large",
          `File "${v.name}" is larger than ${this.limits.uploadSize} bytes`,
        );
      }
    }
    return form;
  }
}

/** Pass at most `max` bytes through; error with 413 beyond (the reader sees it at once). */
export function limitStream(
  body: ReadableStream<Uint8Array>,
  max: number,
  ctx?: { bodyPending: boolean },
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let seen = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      // Only a body being read counts as pending: a timeout then blames the client (408).
      if (ctx) ctx.bodyPending = true;
      const { value, done } = await reader.read();
      if (done) {
        if (ctx) ctx.bodyPending = false;
        controller.close();
        return;
      }
      seen += value.length;
      if (seen > max) {
        reader.cancel().catch(() => {});
        controller.error(tooLarge(max));
        return;
      }
      controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

export function tooLarge(max: number): HttpError {
  return new HttpError(413, "body_too_large", `Request body is larger than ${max} bytes`);
}
