/**
 * The one place where lib/web reaches past Deno's public API, with its public
 * fallback, its measured reason and a canary test beside it
 * (`_deno_internals_test.ts` fails loudly when a Deno upgrade drops it):
 *
 * **Serving one accepted socket** (`serveOnConnection`): `Deno.serve` owns its
 * accept loop and has no header-read timeout, so a slowloris client (one byte
 * every few seconds) holds a socket for as long as it likes, and enough of
 * them lock the port. The "guarded" engine (guarded.ts) accepts sockets itself
 * and hands each to the runtime's own HTTP engine, the one behind
 * `Deno.serve` (`Deno[Deno.internal].serveHttpOnConnection`), so a request
 * costs what it costs on `Deno.serve` while Tern can close a socket without
 * complete headers in time. That entry point closes an upgraded socket when
 * the HTTP exchange ends, so WebSocket apps use `Deno.serveHttp` (kept by the
 * runtime, no longer in its types; about half the throughput). Fallback when
 * neither exists: `web.engine: "serve"` (plain `Deno.serve`, no slowloris
 * guard), with a warning.
 *
 * (Static bodies need no internal: an answer built once and cloned per
 * request shares its bytes, see lib/web/static.ts.)
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
