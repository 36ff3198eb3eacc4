/**
 * Canary for the runtime internal lib/web uses (see _deno_internals.ts): it fails loudly when a
 * Deno upgrade removes what it relies on, so the fallback (slower, or without the slowloris
 * guard) is never taken silently.
 */

import assert from "node:assert/strict";
import { serveHttp, serveOnConnection } from "./_deno_internals.ts";

Deno.test("canary: the runtime's per-connection HTTP engine and Deno.serveHttp exist", () => {
  assert.equal(typeof serveOnConnection, "function", "guarded engine fast path");
  assert.equal(typeof serveHttp, "function", "guarded engine WebSocket loop");
});
