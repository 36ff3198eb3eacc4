/**
 * WebSocket upgrade with a message size limit. `upgrade(req, { maxMessage })`
 * returns the socket and the 101 response to return from the handler; a
 * message larger than `maxMessage` bytes closes the socket with 1009
 * ("message too big") before the application sees it. The runtime itself
 * caps a single frame at 64 MiB.
 *
 * ```ts
 * web.get("/api/ws", (req) => {
 *   const { socket, response } = upgrade(req, { maxMessage: 65536 });
 *   socket.onmessage = (e) => socket.send(e.data);
 *   return response;
 * }, { role: "user" });
 * ```
 */

import { HttpError } from "./errors.ts";
import { utf8 } from "./_text.ts";

/** Options of {@linkcode upgrade}. */
export interface UpgradeOptions {
  /** Largest message in bytes. @default 1048576 */
  maxMessage?: number;
  /** Subprotocol to accept. */
  protocol?: string;
  /** Seconds without a pong before the runtime closes the socket. @default 30 */
  idleTimeout?: number;
}

export function upgrade(
  req: Request,
  options: UpgradeOptions = {},
): { socket: WebSocket; response: Response } {
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    throw new HttpError(426, "upgrade_required", "This route needs a WebSocket upgrade", {
      headers: { upgrade: "websocket" },
    });
  }
  const max = options.maxMessage ?? 1024 * 1024;
  const { socket, response } = Deno.upgradeWebSocket(req, {
    ...(options.protocol ? { protocol: options.protocol } : {}),
    idleTimeout: options.idleTimeout ?? 30,
  });
  // Runs before handlers added later by the caller: oversize messages never reach them.
  socket.addEventListener("message", (e) => {
    const size = typeof e.data === "string"
      ? utf8.encode(e.data).length
      : (e.data as ArrayBuffer | Blob) instanceof Blob
      ? (e.data as Blob).size
      : (e.data as ArrayBuffer).byteLength;
    if (size > max) {
      e.stopImmediatePropagation();
      try {
        socket.close(1009, `Message larger than ${max} bytes`);
      } catch { /* closing */ }
    }
  });
  return { socket, response };
}
