/**
 * HTTP errors and the one place they become responses.
 *
 * A handler throws `HttpError` (or any error with a `status` and `expose: true`,
 * such as lib/db's `DbError`; or a schema error); the app turns it into
 * `{"error": {"code", "message", "fields"?}}` with that status. Anything else
 * is an internal error: it is logged with its stack and the client only sees
 * `{"error": {"code": "internal", "message": "Internal server error"}}`.
 */

import type { Logger } from "../log/mod.ts";

/** One invalid field of a request body: its path ("address.zip") and what is wrong. */
export interface FieldProblem {
  path: string;
  message: string;
}

/** Options of {@linkcode HttpError}. */
export interface HttpErrorOptions {
  /** Invalid fields (400). */
  fields?: FieldProblem[];
  /** Extra response headers (Allow, Retry-After, WWW-Authenticate…). */
  headers?: Record<string, string>;
  cause?: unknown;
}

/**
 * An error meant for the client: its status, code and message are sent as
 * they are. It is control flow, not a bug, so it carries no stack trace:
 * capturing one is most of what a throw costs, and a client hammering a
 * 401 or 404 should cost the device little.
 */
export class HttpError extends Error {
  override readonly name: "HttpError";
  readonly status: number;
  /** Its message is meant for the client (always, for an HttpError). */
  readonly expose = true;
  readonly code: string;
  readonly fields?: FieldProblem[];
  readonly headers?: Record<string, string>;

  constructor(status: number, code: string, message: string, options: HttpErrorOptions = {}) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    Error.stackTraceLimit = limit;
    this.name = "HttpError";
    this.status = status;
    this.code = code;
    if (options.fields) this.fields = options.fields;
    if (options.headers) this.headers = options.headers;
  }
}

/** Shorthands for the common statuses. */
export const badRequest = (message: string, fields?: FieldProblem[]) =>
  new HttpError(400, "bad_request", message, fields ? { fields } : {});
export const notFound = (message = "Not found") => new HttpError(404, "not_found", message);
export const unauthorized = (message = "Login required") =>
  new HttpError(401, "unauthorized", message);
export const forbidden = (message = "Not allowed") => new HttpError(403, "forbidden", message);

const JSON_TYPE = "application/json; charset=utf-8";

/** A JSON error response. */
export function errorJson(
  status: number,
  code: string,
  message: string,
  extra: { fields?: FieldProblem[]; headers?: Record<string, string> } = {},
): Response {
  const error: Record<string, unknown> = { code, message };
  if (extra.fields) error.fields = extra.fields;
  const headers: Record<string, string> = { "content-type": JSON_TYPE, ...extra.headers };
  return new Response(JSON.stringify({ error }), { status, headers });
}

/**
 * Duck-typed validation error: lib/validate's `SchemaError`, or a zod error of
 * any version (a device maker's own schemas): `issues` with `path` and `message`.
 */
function schemaFields(e: unknown): FieldProblem[] | undefined {
  const issues = (e as { issues?: unknown })?.issues;
  const name = (e as Error)?.name;
  if (!Array.isArray(issues) || (name !== "SchemaError" && name !== "ZodError")) return undefined;
  return issues.map((i: { path?: PropertyKey[]; message?: string }) => ({
    path: (i.path ?? []).map(String).join("."),
    message: String(i.message ?? "invalid"),
  }));
}

/**
 * What an error says about itself to the boundary (oak's and http-errors' convention): an HTTP
 * `status`, and `expose` when its message may reach the client. `HttpError` and lib/db's
 * `DbError` both carry them; so may a device maker's own errors.
 */
interface _Exposed {
  status: number;
  expose: boolean;
  message: string;
  code?: unknown;
  fields?: unknown;
  headers?: Record<string, string>;
}

function exposed(e: unknown): e is _Exposed {
  const x = e as Partial<_Exposed> | null | undefined;
  return typeof x?.status === "number" && x.expose === true && x.status >= 400 &&
    x.status <= 599;
}

/** Turn anything thrown by a handler into a response; log what the client must not see. */
export function toErrorResponse(e: unknown, log: Logger, where: string): Response {
  if (exposed(e)) {
    const extra: { fields?: FieldProblem[]; headers?: Record<string, string> } = {};
    if (Array.isArray(e.fields)) extra.fields = e.fields as FieldProblem[];
    if (e.headers) extra.headers = e.headers;
    if (e.status === 503) {
      extra.headers = { "retry-after": "1", ...extra.headers };
      log.warn("service unavailable", { where, error: e.message });
    }
    const code = typeof e.code === "string" ? e.code.toLowerCase() : `http_${e.status}`;
    return errorJson(e.status, code, e.message, extra);
  }
  const fields = schemaFields(e);
  if (fields) return errorJson(400, "invalid", "Invalid request body", { fields });
  if ((e as Error)?.name === "AbortError" || (e as Error)?.name === "TimeoutError") {
    return errorJson(503, "aborted", "The request was aborted");
  }
  log.error("handler failed", {
    where,
    error: String((e as Error)?.message ?? e),
    stack: (e as Error)?.stack,
  });
  return errorJson(500, "internal", "Internal server error");
}
