/**
 * The only two places where lib/web reaches past Deno's public API, each
 * with its public fallback, its measured reason and a canary test beside
 * it (`_deno_internals_test.ts` fails loudly when a Deno upgrade drops one):
 *
 * 1. **Serving one accepted socket** (`serveOnConnection`): `Deno.serve` owns
 *    its accept loop and has no header-read timeout, so a slowloris client
 *    (one byte every few seconds) holds a socket for as long as it likes,
 *    and enough of them lock the port. The "guarded" engine (guarded.ts)
 *    accepts sockets itself and hands each to the runtime's own HTTP engine,
 *    the one behind `Deno.serve` (`Deno[Deno.internal].serveHttpOnConnection`),
 *    so a request costs what it costs on `Deno.serve` while Tern can close a
 *    socket without complete headers in time. That entry point closes an
 *    upgraded socket when the HTTP exchange ends, so WebSocket apps use
 *    `Deno.serveHttp` (kept by the runtime, no longer in its types; about
 *    half the throughput). Fallback when neither exists: `web.engine:
 *    "serve"` (plain `Deno.serve`, no slowloris guard), with a warning.
 *
 * 2. **Static bodies without a copy** (`sharedBodyResponse`): the Fetch
 *    standard has `new Response(bytes)` copy its bytes, and Deno does. For
 *    the in-memory site that copy was, per request, the larger part of a
 *    1 KB answer's cost, and under a 64 KB load about 50 MB of garbage the
 *    allocator then kept (measured: 64 KB static went from 0.8 × to 1.2–1.5 ×
 *    bare `Deno.serve`, see tests/bench/RESULTS.md). So the response is
 *    built around an empty body and its inner body (internal "response"
 *    slot) is pointed at the file's own bytes, which the server sends
 *    without copying. Fallback: `new Response(bytes)` (a copy).
 */

/** What the runtime's per-connection engine returns. */
export interface ServedConnection {
  finished: Promise<void>;
  shutdown(): Promise<void>;
}

/** The runtime's per-connection HTTP engine (the one behind `Deno.serve`). */
export type ServeOnConnection = (
  conn: Deno.Conn,
  signal: AbortSignal | undefined,
  handler: (req: Request, info: { completed: Promise<void> }) => Response | Promise<Response>,
  onError: (e: unknown) => Response,
  onListen: (scheme: string) => void,
) => ServedConnection;

/** `Deno.serveHttp`'s connection (the runtime keeps it; its types were removed). */
export interface LegacyHttpConn {
  nextRequest(): Promise<{ request: Request; respondWith(r: Response): Promise<void> } | null>;
  close(): void;
}

/** The per-connection engine, or undefined on a runtime without it. */
export const serveOnConnection: ServeOnConnection | undefined = (() => {
  const key = (Deno as unknown as { internal?: symbol }).internal;
  const internal = key === undefined
    ? undefined
    : (Deno as unknown as Record<symbol, Record<string, unknown> | undefined>)[key];
  const f = internal?.serveHttpOnConnection;
  return typeof f === "function" ? f as ServeOnConnection : undefined;
})();

/** `Deno.serveHttp`, or undefined on a runtime without it. */
export const serveHttp: ((conn: Deno.Conn) => LegacyHttpConn) | undefined = (() => {
  const f = (Deno as unknown as { serveHttp?: unknown }).serveHttp;
  return typeof f === "function" ? f.bind(Deno) as (conn: Deno.Conn) => LegacyHttpConn : undefined;
})();

/** Deno's inner body of a response, when held whole (internal "response" slot). */
interface _InnerBody {
  streamOrStatic: { body: unknown };
  source: unknown;
  length: number | null;
}

const INNER = Object.getOwnPropertySymbols(new Response("x")).find((s) =>
  s.description === "response"
);

function innerBytes(res: Response): _InnerBody | undefined {
  if (INNER === undefined) return undefined;
  const b = (res as unknown as Record<symbol, { body?: _InnerBody } | undefined>)[INNER]?.body;
  return b?.streamOrStatic && b.streamOrStatic.body instanceof Uint8Array ? b : undefined;
}

const EMPTY = new Uint8Array(0);

/** The slot is there and shaped as expected: bodies are shared, not copied. */
export const SHARES_BODIES: boolean = innerBytes(new Response(EMPTY)) !== undefined;

/**
 * A response whose body is `body` itself, not a copy (a whole buffer: a
 * JavaScript reader of the body gets the view's buffer back, which for a
 * sub-view would be more than the view). Any other body, or a runtime
 * without the slot: an ordinary `new Response(body, init)`.
 */
export function sharedBodyResponse(
  body: Uint8Array<ArrayBuffer> | null,
  init: ResponseInit,
): Response {
  const whole = body !== null && body.byteOffset === 0 &&
    body.byteLength === body.buffer.byteLength;
  if (!SHARES_BODIES || !whole) return new Response(body, init);
  const res = new Response(EMPTY, init);
  // Reading the headers drops what the runtime may have prepared from the empty body (its fast
  // static answer); what is sent is then the inner body set below.
  void res.headers;
  const inner = innerBytes(res)!;
  inner.streamOrStatic.body = body;
  inner.source = body;
  inner.length = body.length;
  return res;
}
