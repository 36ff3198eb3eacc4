/**
 * Security headers added to every response (unless the handler set its own)
 * and CORS for the routes that opt in.
 *
 * Headers, by default ("documents"): a document — HTML, XHTML, SVG, XML,
 * or a response without a content type (which a browser would sniff) — gets
 * `X-Content-Type-Options: nosniff`, `Content-Security-Policy` (with
 * `frame-ancestors 'none'` by default), `X-Frame-Options: DENY` (for
 * browsers without frame-ancestors) and `Referrer-Policy: no-referrer`;
 * on TLS every response gets `Strict-Transport-Security: max-age=31536000`.
 * Data responses with a declared non-document type (JSON, text, images)
 * get none: a browser never renders them as a page, and session cookies
 * are `SameSite=Strict`, so a cross-site `<script src>` cannot read an
 * authenticated answer either. The runtime answers a response with one
 * header through a fast call and with two or more through a slow one (about
 * a quarter of a small response's throughput), so this is worth it. Scope
 * "all" adds nosniff to every response.
 *
 * CORS: an allowed `Origin` (exact match, or `*` in the list) gets
 * `Access-Control-Allow-Origin` (the origin itself, with `Vary: Origin`),
 * and a preflight `OPTIONS` gets the allowed methods and request headers.
 * A disallowed origin gets no CORS headers, so the browser blocks it.
 */

import { utf8 } from "./_globals.ts";

/** CORS options (from `web.cors`). */
export interface CorsOptions {
  /** Allowed origins ("https://app.example.com"); "*" allows any. */
  origins: string[];
  /** Allow cookies and Authorization (never combined with a wildcard reply). */
  credentials: boolean;
  /** Preflight cache in seconds. */
  maxAge: number;
}

const SLOTS = Object.getOwnPropertySymbols(new Headers());
const LIST = SLOTS.find((s) => s.description === "header list");
const LOWER = SLOTS.find((s) => s.description === "lowercase header names");
const GUARD = SLOTS.find((s) => s.description === "guard");

/**
 * The mutable `[name, value][]` behind a fresh response's `Headers`, when the
 * runtime keeps one (Deno does, in an internal slot), else undefined. Every
 * `Headers` method re-validates its arguments through WebIDL (≈ 1–2 µs a
 * call); pushing known-valid constants here skips that. Only lists of
 * mutable ("response" guard) headers are returned; callers push lowercase
 * names and values that are already valid header values, then call
 * {@linkcode rawDone}.
 */
export function rawList(h: Headers): [string, string][] | undefined {
  if (LIST === undefined || GUARD === undefined || LOWER === undefined) return undefined;
  const slots = h as unknown as Record<symbol, unknown>;
  if (slots[GUARD] !== "response") return undefined;
  const l = slots[LIST];
  return Array.isArray(l) ? l as [string, string][] : undefined;
}

/** After pushing to a {@linkcode rawList}: drop the runtime's cached lowercase names. */
export function rawDone(h: Headers): void {
  (h as unknown as Record<symbol, unknown>)[LOWER!] = null;
}

/** Index of header `name` (lowercase) in a raw list, or -1. */
export function rawIndex(l: [string, string][], name: string): number {
  const len = name.length;
  for (let i = 0; i < l.length; i++) {
    const n = l[i]![0];
    if (n.length === len && (n === name || startsLower(n, name))) return i;
  }
  return -1;
}

/**
 * True when `s` starts with `prefix` (lowercase ASCII) ignoring ASCII case,
 * without allocating a lowercased copy (this runs on every response).
 */
export function startsLower(s: string, prefix: string): boolean {
  if (s.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 65 && c <= 90 ? c + 32 : c) !== prefix.charCodeAt(i)) return false;
  }
  return true;
}

/** Deno's internal slots of a `Response`, by description (see each use). */
const RESPONSE_SYMBOLS = Object.getOwnPropertySymbols(new Response("x"));
const slot = (d: string) => RESPONSE_SYMBOLS.find((s) => s.description === d);
const INNER = slot("response");

/** Deno's inner body of a response (internal "response" slot). */
export type InnerBody = {
  streamOrStatic: { body: unknown };
  source: unknown;
  length: number | null;
};

/**
 * The inner body of a response whose body is held whole (a string or bytes,
 * not a stream), or undefined (a stream, no body, or a runtime without the slot).
 */
export function staticBody(res: Response): InnerBody | undefined {
  if (INNER === undefined) return undefined;
  const b = (res as unknown as Record<symbol, { body?: InnerBody } | undefined>)[INNER]?.body;
  const stat = b?.streamOrStatic;
  return stat && !(stat instanceof ReadableStream) ? b : undefined;
}

/**
 * The byte length a response's body will have on the wire when it is known
 * without reading it (a string or bytes body), else null.
 */
export function bodyLength(res: Response): number | null {
  const b = staticBody(res);
  if (b === undefined) return null;
  if (b.length !== null) return b.length;
  const body = b.streamOrStatic.body;
  return typeof body === "string" ? utf8.encode(body).length : null;
}

const FAST_STATUS = slot("serve fast status");
const FAST_KIND = slot("serve fast header kind");
const FAST_TYPE = slot("serve fast content type");
const FAST_BODY = slot("serve fast body");
const HEADERS = slot("headers");
const HEADERS_GUARD = slot("headers guard");
const NATIVE = slot("serve native response");
const LAZY_BODY = slot("lazy static body");
const LAZY_TYPE = slot("lazy static content type");
const RESPONSE_SLOTS = [
  INNER,
  FAST_STATUS,
  FAST_KIND,
  FAST_TYPE,
  FAST_BODY,
  HEADERS,
  HEADERS_GUARD,
  NATIVE,
  LAZY_BODY,
  LAZY_TYPE,
];
const HAS_RESPONSE_SLOTS = RESPONSE_SLOTS.every((s) => s !== undefined);

/**
 * The mutable `[name, value][]` a fresh response will be sent with, like
 * `rawList(res.headers)` but without building the `Headers` object when the
 * response has none yet: Deno keeps the list in the inner response and a
 * content type given at construction in a "lazy" slot, which this settles
 * the way the runtime does. Like reading `res.headers`, it takes the response
 * off the runtime's fastest send path (which ignores the list), so callers
 * use it only to add headers. After pushing, call {@linkcode responseDone}.
 * Undefined for responses whose headers are immutable, or on a runtime
 * without these slots (callers then use `Headers`).
 *
 * `add`: a header to add at once (no {@linkcode responseDone} needed). When
 * the list is still empty (a fresh answer with only a content type) the list
 * is built whole with it: growing the runtime's empty list by a push goes
 * through a V8 runtime call (≈ 0.25 µs per answer in a profile of the API).
 */
export function responseList(
  res: Response,
  add?: [string, string],
): [string, string][] | undefined {
  if (!HAS_RESPONSE_SLOTS) return added(rawList(res.headers), add, res);
  const r = res as unknown as Record<symbol, unknown>;
  const h = r[HEADERS!];
  if (h !== null) return h === undefined ? undefined : added(rawList(h as Headers), add, res);
  // A lazy string body or a prebuilt native answer: let the runtime settle them.
  if (r[HEADERS_GUARD!] !== "response" || r[NATIVE!] != null || r[LAZY_BODY!] != null) {
    return added(rawList(res.headers), add, res);
  }
  const inner = r[INNER!] as { headerList?: unknown } | undefined;
  const had = inner?.headerList;
  if (!Array.isArray(had)) return undefined;
  let list = had as [string, string][];
  const type = r[LAZY_TYPE!];
  if (typeof type === "string") {
    if (list.length === 0) {
      const whole: [string, string][] = add
        ? [["content-type", type], add]
        : [["content-type", type]];
      list = inner!.headerList = whole;
      add = undefined;
    } else list.push(["content-type", type]);
    r[LAZY_TYPE!] = null;
  }
  r[FAST_STATUS!] = 0;
  r[FAST_BODY!] = null;
  r[FAST_KIND!] = 0;
  r[FAST_TYPE!] = null;
  if (add) list.push(add);
  return list;
}

/** `list` with `add` pushed (and the response's cached names dropped), when both are there. */
function added(
  list: [string, string][] | undefined,
  add: [string, string] | undefined,
  res: Response,
): [string, string][] | undefined {
  if (list !== undefined && add !== undefined) {
    list.push(add);
    responseDone(res);
  }
  return list;
}

/** After pushing to a {@linkcode responseList}: drop cached names of its `Headers`, if built. */
export function responseDone(res: Response): void {
  const h = HEADERS === undefined
    ? res.headers
    : (res as unknown as Record<symbol, Headers | null>)[HEADERS];
  if (h) rawDone(h);
}

/**
 * Deno marks a response it can send on its fastest path — status 200, a
 * string or bytes body, no header but the content type — in internal slots,
 * and drops the mark as soon as anyone reads `response.headers`. For such a
 * response this returns its content type (null: none) without touching the
 * headers; for any other response, or a runtime without the slots,
 * undefined. Leaving a data response untouched keeps it on that path.
 */
export function fastStaticType(res: Response): string | null | undefined {
  if (FAST_STATUS === undefined || FAST_KIND === undefined || FAST_TYPE === undefined) {
    return undefined;
  }
  const r = res as unknown as Record<symbol, unknown>;
  if (r[FAST_STATUS] !== 200) return undefined;
  const kind = r[FAST_KIND];
  if (kind === 1) return "text/plain;charset=UTF-8";
  if (kind === 2) return typeof r[FAST_TYPE] === "string" ? r[FAST_TYPE] as string : undefined;
  return kind === 0 ? null : undefined;
}

/**
 * Types a browser renders as a document, where a script can run: HTML,
 * XHTML, SVG and XML (XSLT). A response without a type counts too (it gets
 * sniffed).
 */
const DOCUMENT_TYPES = [
  "text/html",
  "application/xhtml+xml",
  "image/svg+xml",
  "text/xml",
  "application/xml",
];

/** True when a response with this Content-Type is (or may be sniffed into) a document. */
export function isDocumentType(type: string | null): boolean {
  if (type === null) return true;
  if (type === lastType) return lastDoc;
  lastDoc = documentType(type);
  lastType = type;
  return lastDoc;
}

/** The last type asked about and its answer: most answers of a device carry one or two types. */
let lastType: string | undefined;
let lastDoc = false;

function documentType(type: string): boolean {
  for (let i = 0; i < DOCUMENT_TYPES.length; i++) {
    if (startsLower(type, DOCUMENT_TYPES[i]!)) return true;
  }
  return false;
}

export class SecurityHeaders {
  readonly #doc: [string, string][];
  readonly #tls: [string, string][];

  constructor(readonly csp: string, readonly scope: "all" | "documents" = "documents") {
    new Headers([["content-security-policy", csp]]); // throws now on a value no header may carry
    this.#doc = [
      ["content-security-policy", csp],
      ["x-frame-options", "DENY"],
      ["referrer-policy", "no-referrer"],
    ];
    this.#tls = [["strict-transport-security", "max-age=31536000"]];
  }

  /**
   * Add the headers in place (copying the response when its headers are
   * immutable). Every response gets nosniff; documents (HTML, or no content
   * type) also get the CSP, X-Frame-Options and Referrer-Policy; TLS adds HSTS.
   * A private answer (to an authenticated request) also gets
   * `Cache-Control: no-store` unless it set its own cache policy. Pushing to
   * the response's own header list is far cheaper in Deno than validated
   * appends or a headers init. `status`: the response's, when the caller has read it.
   */
  apply(res: Response, secure: boolean, priv = false, status = res.status): Response {
    // A fresh answer whose only header is its type says so in a slot: whether it is a document
    // is then known without building its header list, and a public data answer needs nothing.
    let doc: boolean | undefined;
    if (this.scope === "documents" && !secure) {
      const fast = fastStaticType(res);
      if (typeof fast === "string") {
        doc = isDocumentType(fast);
        if (!doc && !priv) return res;
      }
    }
    if (status === 101) return res;
    // A fresh private data answer: its list is known whole (type, no-store), built at once.
    const raw = responseList(
      res,
      doc === false && priv ? ["cache-control", "no-store"] : undefined,
    );
    if (raw !== undefined) {
      this.#addRaw(raw, res, secure, priv, doc);
      return res;
    }
    if (!priv && this.scope === "documents" && !secure) {
      if (!isDocumentType(res.headers.get("content-type"))) return res;
    }
    let h = res.headers;
    try {
      this.#add(h, secure, priv);
    } catch {
      res = new Response(res.body, res);
      h = res.headers;
      this.#add(h, secure, priv);
    }
    return res;
  }

  /**
   * `#add` on the raw list: one scan per name, pushes instead of validated appends. `known`:
   * whether the answer is a document, when the caller already knows.
   */
  #addRaw(
    l: [string, string][],
    res: Response,
    secure: boolean,
    priv: boolean,
    known?: boolean,
  ): void {
    let doc = known;
    if (doc === undefined) {
      const t = rawIndex(l, "content-type");
      doc = isDocumentType(t < 0 ? null : l[t]![1]);
    }
    const n = l.length;
    if ((doc || this.scope === "all") && rawIndex(l, "x-content-type-options") < 0) {
      l.push(["x-content-type-options", "nosniff"]);
    }
    if (doc) {
      for (const e of this.#doc) if (rawIndex(l, e[0]) < 0) l.push([e[0], e[1]]);
    }
    if (secure && rawIndex(l, "strict-transport-security") < 0) l.push([...this.#tls[0]!]);
    if (priv && rawIndex(l, "cache-control") < 0) l.push(["cache-control", "no-store"]);
    if (l.length !== n) responseDone(res);
  }

  #add(h: Headers, secure: boolean, priv: boolean): void {
    const doc = isDocumentType(h.get("content-type"));
    if ((doc || this.scope === "all") && !h.has("x-content-type-options")) {
      h.append("x-content-type-options", "nosniff");
    }
    if (doc) {
      for (const [k, v] of this.#doc) if (!h.has(k)) h.append(k, v);
    }
    if (secure && !h.has("strict-transport-security")) h.append(...this.#tls[0]!);
    if (priv && !h.has("cache-control")) h.append("cache-control", "no-store");
  }
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
}
