/**
 * Security headers on every answer that lacks them, by default ("documents"): a document —
 * HTML, XHTML, SVG, XML, or a response without a content type (which a browser would sniff) —
 * gets `X-Content-Type-Options: nosniff`, `Content-Security-Policy` (with `frame-ancestors
 * 'none'` by default), `X-Frame-Options: DENY` (for browsers without frame-ancestors) and
 * `Referrer-Policy: no-referrer`; on TLS every response gets `Strict-Transport-Security`. Data
 * answers with a declared non-document type (JSON, text, images) get none: a browser never
 * renders them as a page, and session cookies are `SameSite=Strict`, so a cross-site
 * `<script src>` cannot read an authenticated answer either. Scope "all" adds nosniff to every
 * answer. An answer to an authenticated request is private: `Cache-Control: no-store` unless it
 * set its own cache policy.
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
  if (type === "application/json") return false; // `Response.json`'s: the common answer, no loop
  for (let i = 0; i < DOCUMENT_TYPES.length; i++) {
    if (startsLower(type, DOCUMENT_TYPES[i]!)) return true;
  }
  return false;
}

/** `s` starts with `prefix` (lowercase ASCII), ignoring ASCII case, without a lowercased copy. */
function startsLower(s: string, prefix: string): boolean {
  if (s.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 65 && c <= 90 ? c + 32 : c) !== prefix.charCodeAt(i)) return false;
  }
  return true;
}

export class SecurityHeaders {
  readonly #doc: [string, string][];

  constructor(readonly csp: string, readonly scope: "all" | "documents" = "documents") {
    new Headers([["content-security-policy", csp]]); // throws now on a value no header may carry
    this.#doc = [
      ["content-security-policy", csp],
      ["x-frame-options", "DENY"],
      ["referrer-policy", "no-referrer"],
    ];
  }

  /** The headers a document gets (CSP, frame and referrer policy, nosniff), for prebuilt answers. */
  get documentHeaders(): [string, string][] {
    return [...this.#doc, ["x-content-type-options", "nosniff"]];
  }

  /**
   * What a data answer (a declared non-document type, such as JSON) needs, for a route that
   * builds its answers once: nosniff under scope "all", `Cache-Control: no-store` when it answers
   * authenticated requests (`priv`). An answer carrying these (and its content type) is complete
   * on plain HTTP: the route marks it `ctx.secured` and the middleware leaves it as it is.
   */
  dataHeaders(priv: boolean): [string, string][] {
    const h: [string, string][] = [];
    if (this.scope === "all") h.push(["x-content-type-options", "nosniff"]);
    if (priv) h.push(["cache-control", "no-store"]);
    return h;
  }

  /**
   * Add the headers the answer lacks (copying it when its headers are immutable). `secure`:
   * the request came over TLS; `priv`: it was authenticated.
   */
  apply(res: Response, secure: boolean, priv: boolean): Response {
    if (res.status === 101) return res;
    const h = res.headers;
    const doc = isDocumentType(h.get("content-type"));
    if (!doc && !secure && !priv && this.scope === "documents") return res;
    try {
      this.#add(h, doc, secure, priv);
      return res;
    } catch {
      const copy = new Response(res.body, res);
      this.#add(copy.headers, doc, secure, priv);
      return copy;
    }
  }

  #add(h: Headers, doc: boolean, secure: boolean, priv: boolean): void {
    if ((doc || this.scope === "all") && !h.has("x-content-type-options")) {
      h.set("x-content-type-options", "nosniff");
    }
    if (doc) { for (const [k, v] of this.#doc) if (!h.has(k)) h.set(k, v); }
    if (secure && !h.has("strict-transport-security")) {
      h.set("strict-transport-security", "max-age=31536000");
    }
    if (priv && !h.has("cache-control")) h.append("cache-control", "no-store");
  }
}
