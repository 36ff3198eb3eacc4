/**
 * An HTTP handler for the AWS SDK on `fetch` (Deno's own client: rustls with
 * the bundled roots) instead of the SDK's default `node:https` handler, which
 * in Deno needs extra permissions (the system CA store, NODE_USE_SYSTEM_CA).
 * Bodies are small JSON documents, read whole. Each request is bounded by
 * `requestTimeout`; `destroy()` closes the connection pool.
 */

/** The parts of a smithy `HttpRequest` the handler reads. */
interface _Request {
  protocol: string;
  hostname: string;
  port?: number;
  method: string;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

/** Options of {@linkcode FetchHandler}. */
export interface FetchHandlerOptions {
  /** Per-request timeout in ms. @default 10000 */
  requestTimeout?: number;
}

export class FetchHandler {
  readonly metadata = { handlerProtocol: "h1" };
  readonly #timeout: number;
  #client: Deno.HttpClient | undefined;

  constructor(options: FetchHandlerOptions = {}) {
    this.#timeout = options.requestTimeout ?? 10_000;
  }

  async handle(
    request: _Request,
    options: { abortSignal?: AbortSignal } = {},
  ): Promise<{ response: unknown }> {
    this.#client ??= Deno.createHttpClient({});
    const port = request.port ? `:${request.port}` : "";
    const query = _query(request.query ?? {});
    const url = `${request.protocol}//${request.hostname}${port}${request.path}${query}`;
    const headers = new Headers();
    for (const [k, v] of Object.entries(request.headers)) {
      // fetch sets these itself.
      if (
        !["host", "content-length", "transfer-encoding", "connection"].includes(k.toLowerCase())
      ) {
        headers.set(k, v);
      }
    }
    const signals = [AbortSignal.timeout(this.#timeout)];
    if (options.abortSignal) signals.push(options.abortSignal as AbortSignal);
    let res: Response;
    try {
      res = await fetch(url, {
        method: request.method,
        headers,
        ...(request.body !== undefined && request.method !== "GET" && request.method !== "HEAD"
          ? { body: request.body as BodyInit }
          : {}),
        signal: AbortSignal.any(signals),
        client: this.#client,
      });
    } catch (e) {
      const name = e instanceof DOMException && e.name === "TimeoutError" ? "TimeoutError" : "";
      const err = e instanceof Error ? e : new Error(String(e));
      if (name) Object.defineProperty(err, "name", { value: name });
      throw err;
    }
    const body = new Uint8Array(await res.arrayBuffer());
    const out: Record<string, string> = {};
    res.headers.forEach((v, k) => out[k] = v);
    return { response: { statusCode: res.status, reason: res.statusText, headers: out, body } };
  }

  updateHttpClientConfig(): void {}

  httpHandlerConfigs(): Record<string, unknown> {
    return {};
  }

  destroy(): void {
    this.#client?.close();
    this.#client = undefined;
  }
}

function _query(q: Record<string, string | string[] | null>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q)) {
    const key = encodeURIComponent(k);
    if (v === null) parts.push(key);
    else if (Array.isArray(v)) { for (const x of v) parts.push(`${key}=${encodeURIComponent(x)}`); }
    else parts.push(`${key}=${encodeURIComponent(v)}`);
  }
  return parts.length ? `?${parts.join("&")}` : "";
}
