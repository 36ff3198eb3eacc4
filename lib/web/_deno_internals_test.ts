/**
 * Canaries for the two runtime internals lib/web uses (see _deno_internals.ts): each fails
 * loudly when a Deno upgrade removes or reshapes what it relies on, so the fallback (slower,
 * or without the slowloris guard) is never taken silently.
 */

import assert from "node:assert/strict";
import {
  serveHttp,
  serveOnConnection,
  sharedBodyResponse,
  SHARES_BODIES,
} from "./_deno_internals.ts";

Deno.test("canary: the runtime's per-connection HTTP engine and Deno.serveHttp exist", () => {
  assert.equal(typeof serveOnConnection, "function", "guarded engine fast path");
  assert.equal(typeof serveHttp, "function", "guarded engine WebSocket loop");
});

Deno.test("canary: a static body is shared, not copied, and the wire carries its bytes", async () => {
  assert.ok(SHARES_BODIES, "the runtime's inner body slot is there");
  const bytes = new Uint8Array(70_000).map((_, i) => (i * 31) & 255);
  const headers = [["content-type", "application/octet-stream"], ["etag", '"x"']];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => sharedBodyResponse(bytes, { headers }),
  );
  try {
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    assert.equal(res.headers.get("etag"), '"x"');
    assert.equal(res.headers.get("content-length"), "70000");
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), bytes);
  } finally {
    await server.shutdown();
  }
  // Not a copy: a change to the bytes after the response was built shows in its body.
  const shared = sharedBodyResponse(bytes, {});
  bytes[0] = bytes[0]! ^ 1;
  assert.deepEqual(new Uint8Array(await shared.arrayBuffer()), bytes);
  const part = bytes.subarray(10, 20);
  assert.deepEqual(new Uint8Array(await sharedBodyResponse(part, {}).arrayBuffer()), part);
});
