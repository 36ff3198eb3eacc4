/**
 * The default "guarded" engine over real sockets: a client that never
 * finishes its headers is cut off at `headerTimeout`, a kept-alive
 * socket at `idleTimeout`, a response still streaming is never cut, open
 * sockets are capped, and WebSocket routes keep working.
 */

import assert from "node:assert/strict";
import { nullLogger } from "../lib/log/mod.ts";
import { upgrade, WebApp, WebServer } from "../lib/web/mod.ts";

const enc = new TextEncoder();

/** Resolves with how long the server took to close `c` (null if it answered instead). */
async function closedAfter(c: Deno.Conn, t0 = Date.now(), limit = 3000): Promise<number | null> {
  const timer = setTimeout(() => c.close(), limit);
  try {
    const n = await c.read(new Uint8Array(4096));
    return n === null ? Date.now() - t0 : null;
  } catch {
    return Date.now() - t0;
  } finally {
    clearTimeout(timer);
    try {
      c.close();
    } catch { /* closed */ }
  }
}

async function start(app: WebApp, extra: Partial<Parameters<typeof WebServer.start>[1]> = {}) {
  return await WebServer.start(app, {
    listen: ["http://127.0.0.1:0"],
    headerTimeout: 300,
    idleTimeout: 600,
    log: nullLogger,
    ...extra,
  });
}

for (const ws of [false, true]) {
  const name = ws ? "WebSocket-capable loop" : "fast path";
  Deno.test(`guarded engine (${name}): a slowloris client is cut off at headerTimeout`, async () => {
    const app = new WebApp();
    app.get("/", () => new Response("ok"));
    if (ws) app.get("/ws", (req) => upgrade(req).response, { websocket: true });
    await using server = await start(app);
    const port = server.endpoints[0]!.port;
    const t0 = Date.now();
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    await c.write(enc.encode("GET / HTTP/1.1\r\nHost: a\r\n"));
    await new Promise((r) => setTimeout(r, 100));
    await c.write(enc.encode("X-Slow: 1\r\n")).catch(() => 0);
    const waited = await closedAfter(c, t0);
    assert.notEqual(waited, null, "closed without a response");
    assert.ok(waited! >= 250 && waited! < 2000, `cut off after ${waited} ms`);
    const ok = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(await ok.text(), "ok", "others are still served");
  });
}

Deno.test("guarded engine: an idle keep-alive socket is closed, a long stream is not", async () => {
  const app = new WebApp();
  app.get("/", () => new Response("ok"));
  // Streams for 3 × idleTimeout, a chunk every 150 ms.
  app.get("/stream", () => {
    let i = 0;
    return new Response(
      new ReadableStream({
        async pull(c) {
          await new Promise((r) => setTimeout(r, 150));
          if (++i > 12) return c.close();
          c.enqueue(enc.encode(`chunk ${i}\n`));
        },
      }),
    );
  }, { timeout: 0 });
  await using server = await start(app);
  const port = server.endpoints[0]!.port;

  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  await c.write(enc.encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  const first = new Uint8Array(4096);
  const n = await c.read(first);
  assert.match(new TextDecoder().decode(first.subarray(0, n!)), /^HTTP\/1\.1 200/);
  const idle = await closedAfter(c);
  assert.notEqual(idle, null, "the idle socket was closed");
  assert.ok(idle! >= 400 && idle! < 2500, `closed after ${idle} ms idle`);

  const r = await fetch(`http://127.0.0.1:${port}/stream`);
  const text = await r.text();
  assert.equal(text.split("\n").filter(Boolean).length, 12, "the stream ran to its end");
});

Deno.test("guarded engine: sockets beyond `connections` are closed at accept", async () => {
  const app = new WebApp();
  app.get("/", () => new Response("ok"));
  await using server = await start(app, { connections: 2, headerTimeout: 5000 });
  const port = server.endpoints[0]!.port;
  const held = [
    await Deno.connect({ hostname: "127.0.0.1", port }),
    await Deno.connect({ hostname: "127.0.0.1", port }),
  ];
  await new Promise((r) => setTimeout(r, 100));
  const third = await Deno.connect({ hostname: "127.0.0.1", port });
  await third.write(enc.encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n")).catch(() => 0);
  assert.notEqual(await closedAfter(third), null, "the third socket was closed unanswered");
  for (const c of held) c.close();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), "ok");
});

Deno.test("guarded engine: an undeclared WebSocket route works from the next connection on", async () => {
  const logged: string[] = [];
  const log = Object.assign(Object.create(nullLogger), {
    error: (m: string) => logged.push(m),
  }) as typeof nullLogger;
  const app = new WebApp({ log });
  app.get("/ws", (req) => {
    const { socket, response } = upgrade(req);
    socket.onmessage = (e) => socket.send(e.data);
    return response;
  });
  await using server = await start(app, { log });
  const url = `${server.endpoints[0]!.url.replace("http", "ws")}/ws`;
  const echo = async () => {
    const ws = new WebSocket(url);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await new Promise<string>((ok) => {
        timer = setTimeout(() => ok("timed out"), 2000);
        ws.onopen = () => ws.send("hello");
        ws.onmessage = (e) => ok(e.data);
        ws.onerror = () => ok("failed");
        ws.onclose = () => ok("closed");
      });
    } finally {
      clearTimeout(timer);
      const closed = new Promise((r) => ws.onclose = r);
      if (ws.readyState === WebSocket.CLOSED) ws.onclose!(new CloseEvent("close"));
      else ws.close();
      await closed;
    }
  };
  await echo(); // may fail: that socket was on the fast path
  assert.equal(app.websockets, true);
  assert.match(logged.join("\n"), /websocket: true/);
  assert.equal(await echo(), "hello");
});

for (const ws of [false, true]) {
  const name = ws ? "WebSocket-capable loop" : "fast path";
  Deno.test(`guarded engine (${name}): silent TLS clients do not keep their slots`, async () => {
    // The fast path cannot close a socket stuck in its TLS handshake; it must not hold a slot.
    const { makeTlsFixtures } = await import("./helpers/tls.ts");
    await using tls = await makeTlsFixtures();
    const app = new WebApp();
    app.get("/", () => new Response("ok"));
    if (ws) app.get("/ws", (req) => upgrade(req).response, { websocket: true });
    await using server = await start(app, {
      listen: ["https://127.0.0.1:0"],
      tls: { cert: tls.serverCert, key: tls.serverKey },
      connections: 2,
    });
    const port = server.endpoints[0]!.port;
    const silent = [
      await Deno.connect({ hostname: "127.0.0.1", port }),
      await Deno.connect({ hostname: "127.0.0.1", port }),
    ];
    const client = Deno.createHttpClient({ caCerts: [tls.caCert] });
    try {
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(app.metrics.connections, 2, "both silent sockets hold a slot at first");
      // headerTimeout 300 ms, sweeps every 75 ms: given back after about 450 ms.
      const t0 = Date.now();
      while (app.metrics.connections > 0 && Date.now() - t0 < 3000) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(app.metrics.connections, 0);
      if (!ws) {
        // (The Deno.serveHttp loop lets go of such a socket when it stops, uncounted.)
        assert.equal(app.metrics.tlsStalled, 2);
        assert.match(app.metrics.render(), /^tern_http_stalled_tls_connections 2$/m);
      }
      const ok = await fetch(`https://localhost:${port}/`, { client });
      assert.equal(await ok.text(), "ok", "a client is served although two silent ones stay");
    } finally {
      client.close();
      for (const c of silent) c.close();
    }
    const t0 = Date.now();
    while (app.metrics.tlsStalled > 0 && Date.now() - t0 < 3000) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(app.metrics.tlsStalled, 0, "the runtime lets go once the clients leave");
  });
}
