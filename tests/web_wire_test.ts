/**
 * The real-socket battery: what only the wire shows. Raw `Deno.connect`
 * sends malformed bytes; `fetch` drives the rest. After the battery the
 * server must still answer.
 */

import assert from "node:assert/strict";
import { systemClock } from "../lib/clock.ts";
import { configSchema } from "../lib/config/mod.ts";
import { Database } from "../lib/db/mod.ts";
import { nullLogger } from "../lib/log/mod.ts";
import { upgrade, WebApp, WebServer } from "../lib/web/mod.ts";
import { buildApp } from "../routes/web_service.ts";
import { makeTlsFixtures } from "./helpers/tls.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Send raw bytes, read until the server closes or `ms` passes; returns what came back. */
async function raw(port: number, bytes: string, ms = 1500): Promise<string> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  let out = "";
  const timer = setTimeout(() => c.close(), ms);
  try {
    await c.write(enc.encode(bytes));
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await c.read(buf);
      if (n === null) break;
      out += dec.decode(buf.subarray(0, n));
      // One response with a body is enough; keep-alive would otherwise wait for the timer.
      const m = /content-length: (\d+)\r\n/i.exec(out);
      const end = out.indexOf("\r\n\r\n");
      if (end >= 0 && (m ? out.length >= end + 4 + Number(m[1]) : !/chunked/i.test(out))) break;
    }
  } catch {
    // closed by the timer or reset by the server
  } finally {
    clearTimeout(timer);
    try {
      c.close();
    } catch { /* already closed */ }
  }
  return out;
}

const status = (resp: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(resp)?.[1] ?? 0);

async function battery(engine: "serve" | "guarded") {
  const dir = await Deno.makeTempDir();
  const config = configSchema.parse({
    web: {
      auth: { iterations: 10_000, maxFailures: 3 },
      limits: { headerSize: 8192, bodySize: 4096 },
    },
  });
  const db = Database.open({ path: `${dir}/tern.db`, clock: systemClock, purgeInterval: 0 });
  const { app, deps } = buildApp(config, { log: nullLogger, clock: systemClock, db });
  await deps.site?.ready;
  app.post("/api/echo", async (_r, ctx) => Response.json(await ctx.json()));
  const server = await WebServer.start(app, {
    listen: ["http://127.0.0.1:0"],
    engine,
    log: nullLogger,
  });
  const port = server.endpoints[0]!.port;
  return {
    app,
    deps,
    port,
    base: `http://127.0.0.1:${port}`,
    async [Symbol.asyncDispose]() {
      await server.close();
      db.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

for (const engine of ["serve", "guarded"] as const) {
  Deno.test(`wire battery (${engine} engine): malformed input is refused and the server keeps answering`, async (t) => {
    await using s = await battery(engine);
    const { port, base } = s;

    await t.step("malformed request lines and headers are 400", async () => {
      for (
        const bad of [
          "GARBAGE\r\n\r\n",
          "GET\r\n\r\n",
          "GET / HTTP/9.9\r\nHost: a\r\n\r\n",
          "GET / HTTP/1.1\r\nHost: a\r\nBad Header Name: x\r\n\r\n",
          "GET / HTTP/1.1\r\nHost: a\r\n: novalue\r\n\r\n",
          "\x00\x01\x02\r\n\r\n",
        ]
      ) {
        const r = await raw(port, bad);
        assert.equal(status(r), 400, `${JSON.stringify(bad)} → ${r.slice(0, 40)}`);
      }
    });

    await t.step("bare LF line endings get a well-formed answer", async () => {
      const r = await raw(port, "GET /api/health HTTP/1.1\nHost: a\nConnection: close\n\n");
      assert.ok([200, 400].includes(status(r)), r.slice(0, 40));
    });

    await t.step(
      "duplicate, conflicting Content-Length is 400 (no request smuggling)",
      async () => {
        const r = await raw(
          port,
          "POST /api/echo HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{}xyz",
        );
        assert.equal(status(r), 400);
      },
    );

    await t.step("oversized headers are 431, huge ones are refused by the parser", async () => {
      const r = await raw(
        port,
        `GET /api/health HTTP/1.1\r\nHost: a\r\nX-Big: ${
          "a".repeat(9000)
        }\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(status(r), 431);
      const huge = await raw(
        port,
        `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${"a".repeat(300_000)}\r\n\r\n`,
      );
      assert.ok(huge === "" || [400, 431].includes(status(huge)));
    });

    await t.step("oversized bodies are 413, declared or chunked", async () => {
      const declared = await raw(
        port,
        `POST /api/echo HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n${
          "1".repeat(5000)
        }`,
      );
      assert.equal(status(declared), 413);
      const chunk = `1000\r\n${" ".repeat(4096)}\r\n`;
      const chunked = await raw(
        port,
        `POST /api/echo HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunk}${chunk}0\r\n\r\n`,
      );
      assert.equal(status(chunked), 413);
    });

    await t.step("path traversal in every form is 400 or 404 and never leaks a file", async () => {
      for (
        const p of [
          "/../../../../etc/passwd",
          "/%2e%2e/%2e%2e/etc/passwd",
          "/%252e%252e/etc/passwd",
          "/..%2f..%2fetc%2fpasswd",
          "/..\\..\\etc\\passwd",
          "/%5c..%5c..%5cetc%5cpasswd",
          "/index.html%00.png",
          "/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
          "/static/..;/..;/etc/passwd",
          "//etc/passwd",
        ]
      ) {
        const r = await raw(port, `GET ${p} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
        const st = status(r);
        assert.ok(
          st === 400 || st === 404 || (st === 200 && r.includes("<!doctype html>")),
          `${p} → ${st}`,
        );
        assert.doesNotMatch(r, /root:x:0:0/, p);
      }
    });

    await t.step("bad JSON is 400 and a wrong content type 415", async () => {
      const bad = await fetch(`${base}/api/echo`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"a":',
      });
      assert.equal(bad.status, 400);
      assert.equal((await bad.json()).error.code, "bad_request");
      const wrong = await fetch(`${base}/api/echo`, { method: "POST", body: "a=1" });
      assert.equal(wrong.status, 415);
      await wrong.body?.cancel();
    });

    await t.step("HEAD, OPTIONS and 405 with Allow", async () => {
      const head = await raw(
        port,
        "HEAD /api/health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      );
      assert.equal(status(head), 200);
      assert.ok(head.endsWith("\r\n\r\n"), "no body after HEAD headers");
      const get = await fetch(`${base}/api/health`);
      const body = await get.bytes();
      assert.match(head, new RegExp(`\r\ncontent-length: ${body.length}\r\n`, "i"));
      const opt = await fetch(`${base}/api/auth/login`, { method: "OPTIONS" });
      assert.equal(opt.status, 204);
      assert.equal(opt.headers.get("allow"), "OPTIONS, POST");
      const na = await fetch(`${base}/api/health`, { method: "DELETE" });
      assert.equal(na.status, 405);
      assert.match(na.headers.get("allow")!, /GET/);
      await na.body?.cancel();
    });

    await t.step("static: 304, Range 206 and 416, encodings with Vary", async () => {
      const first = await fetch(`${base}/js/app.js`);
      const etag = first.headers.get("etag")!;
      const full = new Uint8Array(await first.arrayBuffer());
      const nm = await fetch(`${base}/js/app.js`, { headers: { "if-none-match": etag } });
      assert.equal(nm.status, 304);
      const part = await fetch(`${base}/js/app.js`, { headers: { range: "bytes=0-9" } });
      assert.equal(part.status, 206);
      assert.deepEqual(new Uint8Array(await part.arrayBuffer()), full.subarray(0, 10));
      const past = await fetch(`${base}/js/app.js`, {
        headers: { range: `bytes=${full.length + 10}-` },
      });
      assert.equal(past.status, 416);
      assert.equal(past.headers.get("content-range"), `bytes */${full.length}`);
      const br = await raw(
        port,
        "GET /js/app.js HTTP/1.1\r\nHost: a\r\nAccept-Encoding: br\r\nConnection: close\r\n\r\n",
      );
      assert.match(br, /content-encoding: br/i);
      assert.match(br, /vary: Accept-Encoding/i);
    });

    await t.step("session fixation, XSRF and brute force over the wire", async () => {
      const setup = await fetch(`${base}/api/auth/setup`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          token: s.deps.setup.token,
          username: "admin",
          password: "correct horse",
        }),
      });
      assert.equal(setup.status, 201);
      await setup.body?.cancel();
      const planted = "tern_session=" + "B".repeat(43);
      const login = await fetch(`${base}/api/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json", cookie: planted },
        body: JSON.stringify({ username: "admin", password: "correct horse" }),
      });
      assert.equal(login.status, 200);
      const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
      assert.notEqual(cookie, planted);
      const { xsrf } = await login.json();
      // Private answers carry no-store once, beside their own type (the bytes on the wire).
      for (const path of ["/api/auth/me", "/api/users"]) {
        const got = await raw(
          port,
          `GET ${path} HTTP/1.1\r\nHost: x\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`,
        );
        const head = got.slice(0, got.indexOf("\r\n\r\n")).toLowerCase();
        assert.equal(status(got), 200, path);
        assert.equal(head.split("cache-control: no-store").length, 2, `${path}: ${head}`);
        assert.match(head, /\r\ncontent-type: application\/json/, path);
      }
      const noX = await fetch(`${base}/api/users`, {
        method: "POST",
        headers: { "content-type": "application/json", cookie },
        body: JSON.stringify({ username: "x1", password: "password1", role: "user" }),
      });
      assert.equal(noX.status, 403);
      await noX.body?.cancel();
      const withX = await fetch(`${base}/api/users`, {
        method: "POST",
        headers: { "content-type": "application/json", cookie, "x-xsrf-token": xsrf },
        body: JSON.stringify({ username: "x1", password: "password1", role: "user" }),
      });
      assert.equal(withX.status, 201);
      await withX.body?.cancel();
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await fetch(`${base}/api/auth/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username: "x1", password: "wrong" }),
        });
        codes.push(r.status);
        await r.body?.cancel();
      }
      assert.equal(codes[0], 401);
      assert.ok(codes.slice(1).every((c) => c === 429 || c === 401));
      assert.equal(codes.at(-1), 429);
      const escalate = await fetch(`${base}/api/users/admin`, {
        method: "PATCH",
        headers: { "content-type": "application/json", authorization: "Bearer tern_forged" },
        body: JSON.stringify({ role: "user" }),
      });
      assert.equal(escalate.status, 401);
      await escalate.body?.cancel();
    });

    await t.step("after the battery the server still answers", async () => {
      const r = await fetch(`${base}/api/health`);
      assert.equal(r.status, 200);
      assert.equal((await r.json()).ok, true);
    });
  });
}

Deno.test("a body of a declared length is read whole, and one that stalls is 408 (both engines)", async () => {
  for (const engine of ["serve", "guarded"] as const) {
    const app = new WebApp({ requestTimeout: 300, bodySize: 64 });
    app.post("/echo", async (_r, ctx) => new Response(await ctx.bytes()));
    const server = await WebServer.start(app, {
      listen: ["http://127.0.0.1:0"],
      engine,
      log: nullLogger,
    });
    try {
      const port = server.endpoints[0]!.port;
      const ok = await raw(
        port,
        "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789",
      );
      assert.equal(status(ok), 200, `${engine}: ${ok.slice(0, 40)}`);
      assert.ok(ok.endsWith("\r\n\r\n0123456789"), ok);
      const stalled = await raw(
        port,
        "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 20\r\nConnection: close\r\n\r\n01234",
      );
      assert.equal(status(stalled), 408, `${engine}: ${stalled.slice(0, 60)}`);
      assert.match(stalled, /request_timeout/);
    } finally {
      await server.close();
    }
  }
});

Deno.test("concurrency beyond the limit is 503 with Retry-After", async () => {
  const app = new WebApp();
  const { promise: gate, resolve: open } = Promise.withResolvers<void>();
  app.get("/wait", async () => {
    await gate;
    return new Response("done");
  });
  await using server = await WebServer.start(app, {
    listen: ["http://127.0.0.1:0"],
    concurrency: 2,
    log: nullLogger,
  });
  const base = server.endpoints[0]!.url;
  const a = fetch(`${base}/wait`);
  const b = fetch(`${base}/wait`);
  while (server.inflight < 2) await new Promise((r) => setTimeout(r, 5));
  const c = await fetch(`${base}/wait`);
  assert.equal(c.status, 503);
  assert.equal(c.headers.get("retry-after"), "1");
  await c.body?.cancel();
  open();
  assert.equal(await (await a).text(), "done");
  assert.equal(await (await b).text(), "done");
  assert.equal(server.inflight, 0);
});

Deno.test("failing handlers give their concurrency slot back", async () => {
  const app = new WebApp();
  app.get("/throw", () => {
    throw new Error("boom");
  });
  app.get("/reject", () => Promise.reject(new Error("boom")));
  app.get("/bad", () => "not a response" as unknown as Response);
  app.get("/ok", () => new Response("ok"));
  await using server = await WebServer.start(app, {
    listen: ["http://127.0.0.1:0"],
    concurrency: 1,
    log: nullLogger,
  });
  const base = server.endpoints[0]!.url;
  // With one slot, a single leaked count would turn every later request into a 503.
  for (let i = 0; i < 3; i++) {
    for (const path of ["/throw", "/reject", "/bad"]) {
      const r = await fetch(`${base}${path}`);
      assert.equal(r.status, 500, path);
      await r.body?.cancel();
    }
  }
  assert.equal(server.inflight, 0);
  const r = await fetch(`${base}/ok`);
  assert.equal(await r.text(), "ok");
  assert.equal(app.metrics.active, 0);
});

Deno.test("https on IPv6 and http on IPv4 at once, with HSTS on TLS", async () => {
  await using tls = await makeTlsFixtures();
  const app = new WebApp();
  app.get("/", (_r, ctx) => Response.json({ secure: ctx.secure }));
  await using server = await WebServer.start(app, {
    listen: ["http://127.0.0.1:0", "https://[::1]:0"],
    tls: { cert: tls.serverCert, key: tls.serverKey },
    log: nullLogger,
  });
  const [plain, secure] = server.endpoints;
  assert.match(secure!.url, /^https:\/\/\[::1\]:\d+$/);
  const client = Deno.createHttpClient({ caCerts: [tls.caCert] });
  try {
    const r = await fetch(`${secure!.url}/`, { client });
    assert.deepEqual(await r.json(), { secure: true });
    assert.match(r.headers.get("strict-transport-security")!, /max-age/);
    const p = await fetch(`${plain!.url}/`);
    assert.deepEqual(await p.json(), { secure: false });
  } finally {
    client.close();
  }
});

Deno.test("WebSocket: echo works and a message over the limit closes with 1009", async () => {
  const app = new WebApp();
  app.get("/ws", (req) => {
    const { socket, response } = upgrade(req, { maxMessage: 1000 });
    socket.onmessage = (e) => socket.send(e.data);
    return response;
  }, { websocket: true });
  await using server = await WebServer.start(app, {
    listen: ["http://127.0.0.1:0"],
    log: nullLogger,
  });
  const ws = new WebSocket(`${server.endpoints[0]!.url.replace("http", "ws")}/ws`);
  const closed = new Promise<CloseEvent>((r) => ws.onclose = r);
  await new Promise((r) => ws.onopen = r);
  const echo = new Promise<string>((r) => ws.onmessage = (e) => r(e.data));
  ws.send("hello");
  assert.equal(await echo, "hello");
  ws.send("x".repeat(5000));
  const ev = await closed;
  assert.equal(ev.code, 1009);
  const plain = await fetch(`${server.endpoints[0]!.url}/ws`);
  assert.equal(plain.status, 426, "a plain GET is told to upgrade");
  await plain.body?.cancel();
});

Deno.test("a handler streams 10,000,000 lines in constant memory", async () => {
  // The server runs in its own process so its RSS is not mixed with the client's buffers.
  const LINES = 10_000_000;
  const code = `
    import { WebApp, WebServer } from "${new URL("../lib/web/mod.ts", import.meta.url).href}";
    import { nullLogger } from "${new URL("../lib/log/mod.ts", import.meta.url).href}";
    const enc = new TextEncoder();
    const app = new WebApp();
    app.get("/lines", () => {
      let i = 0;
      return new Response(new ReadableStream({
        pull(c) {
          if (i >= ${LINES}) return c.close();
          let s = "";
          const end = Math.min(${LINES}, i + 2000);
          for (; i < end; i++) s += "line " + i + "\\n";
          c.enqueue(enc.encode(s));
        },
      }, { highWaterMark: 1 }));
    }, { timeout: 0 });
    const s = await WebServer.start(app, { listen: ["http://127.0.0.1:0"], log: nullLogger });
    console.log(s.endpoints[0].url);
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", new URL("../deno.json", import.meta.url).pathname, code],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const out = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let url = "";
  while (!url.includes("\n")) url += (await out.read()).value ?? "";
  out.releaseLock();
  child.stdout.cancel().catch(() => {});
  const rss = () =>
    Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${child.pid}/status`))![1]) / 1024;
  try {
    const r = await fetch(`${url.trim()}/lines`);
    const reader = r.body!.getReader();
    let bytes = 0;
    let newlines = 0;
    let n = 0;
    let base = 0;
    let peak = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      bytes += value.length;
      for (let k = 0; k < value.length; k++) if (value[k] === 10) newlines++;
      n++;
      // Baseline once the stream is under way (the first chunks warm up the runtime).
      if (n === 200) base = peak = rss();
      else if (n > 200 && n % 100 === 0) peak = Math.max(peak, rss());
    }
    assert.equal(newlines, LINES);
    assert.ok(bytes > 100_000_000, `${bytes} bytes streamed`);
    const growth = peak - base;
    assert.ok(
      growth < 48,
      `server RSS grew ${growth.toFixed(1)} MB while streaming ${(bytes / 1e6).toFixed(0)} MB`,
    );
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
});

Deno.test("close() ends an endless SSE stream after the grace period", async () => {
  const { SseStream } = await import("../lib/web/mod.ts");
  const app = new WebApp();
  app.get("/events", (_r, ctx) => {
    const sse = new SseStream(ctx.signal, 50);
    sse.send({ data: "hi" });
    return sse.response();
  }, { timeout: 0 });
  const server = await WebServer.start(app, {
    listen: ["http://127.0.0.1:0"],
    shutdownTimeout: 200,
    log: nullLogger,
  });
  const r = await fetch(`${server.endpoints[0]!.url}/events`);
  const reader = r.body!.getReader();
  assert.match(dec.decode((await reader.read()).value), /data: hi/);
  const t0 = Date.now();
  await server.close();
  assert.ok(Date.now() - t0 < 2000, `closed in ${Date.now() - t0} ms`);
  // The client sees the stream end (or break) instead of hanging.
  for (;;) {
    const next = await reader.read().catch(() => ({ done: true }));
    if (next.done) break;
  }
});
