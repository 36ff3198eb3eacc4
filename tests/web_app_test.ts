/**
 * The web app through `app.request()` without a socket: routing, errors,
 * limits, security headers, CORS, SSE, uploads, metrics, access log.
 */

import assert from "node:assert/strict";
import { until } from "./helpers/wait.ts";
import { z } from "zod";
import { AccessLog, HttpError, SseStream, WebApp } from "../lib/web/mod.ts";

const req = (method: string, path: string, init: RequestInit = {}) =>
  new Request(`http://dev.local${path}`, { method, ...init });

function app(opts: ConstructorParameters<typeof WebApp>[0] = {}): WebApp {
  const a = new WebApp(opts);
  a.get("/hello", () => new Response("hello"));
  a.route("POST", "/echo", async (_r, ctx) => Response.json(await ctx.json()));
  a.get("/items/:id", (_r, ctx) => Response.json(ctx.params));
  return a;
}

Deno.test("a device maker's action answers through the router, with params decoded", async () => {
  const a = app();
  a.route("POST", "/api/led", async (_req, ctx) => {
    const { on } = await ctx.json(z.object({ on: z.boolean() }));
    return Response.json({ led: on });
  });
  const r = await a.request(req("POST", "/api/led", {
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ on: true }),
  }));
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { led: true });
  const p = await a.request(req("GET", "/items/a%2Fb%20c"));
  assert.deepEqual(await p.json(), { id: "a/b c" });
});

Deno.test("unknown path is a JSON 404; wrong method is 405 with Allow; OPTIONS lists methods", async () => {
  const a = app();
  const nf = await a.request(req("GET", "/nope"));
  assert.equal(nf.status, 404);
  assert.equal((await nf.json()).error.code, "not_found");
  const na = await a.request(req("DELETE", "/hello"));
  assert.equal(na.status, 405);
  assert.equal(na.headers.get("allow"), "GET, HEAD, OPTIONS");
  assert.equal((await na.json()).error.code, "method_not_allowed");
  const opt = await a.request(req("OPTIONS", "/hello"));
  assert.equal(opt.status, 204);
  assert.equal(opt.headers.get("allow"), "GET, HEAD, OPTIONS");
});

Deno.test("HEAD runs the GET handler and sends no body, with the GET's Content-Length", async () => {
  const a = app();
  a.get("/utf8", () => new Response("héllo wörld"));
  a.get("/bytes", () => new Response(new Uint8Array(1234)));
  a.get("/json", () => Response.json({ ok: true }));
  a.get("/declared", () => new Response("abc", { headers: { "content-length": "3" } }));
  let cancelled = false;
  a.get("/stream", () =>
    new Response(
      new ReadableStream({
        pull(c) {
          c.enqueue(new Uint8Array(8));
        },
        cancel() {
          cancelled = true;
        },
      }),
    ));
  const cases: [string, string | null][] = [
    ["/hello", "5"],
    ["/utf8", String(new TextEncoder().encode("héllo wörld").length)],
    ["/bytes", "1234"],
    ["/json", String(JSON.stringify({ ok: true }).length)],
    ["/declared", "3"],
    ["/stream", null],
  ];
  // Over the wire: the app answers HEAD with the GET answer; the runtime sends its headers with
  // the length of a body it knows whole, and drops the body (an endless stream is not read).
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (r) => a.request(r));
  try {
    for (const [path, len] of cases) {
      const r = await fetch(`http://127.0.0.1:${server.addr.port}${path}`, { method: "HEAD" });
      assert.equal(r.status, 200, path);
      assert.equal((await r.arrayBuffer()).byteLength, 0, path);
      assert.equal(r.headers.get("content-length"), len, path);
      if (path === "/json") assert.equal(r.headers.get("content-type"), "application/json");
    }
    await until(() => cancelled, { ms: 2000, what: "the unread stream cancelled" });
  } finally {
    await server.shutdown();
  }
});

Deno.test("errors become JSON in one place; internals are logged, not sent", async () => {
  const logged: unknown[] = [];
  const { LogHub } = await import("../lib/log/mod.ts");
  const hub = new LogHub({ sinks: [{ write: (r) => logged.push(r) }] });
  const a = new WebApp({ log: hub.logger("web") });
  a.get("/boom", () => {
    throw new Error("secret internal detail at /var/lib/x");
  });
  a.get("/teapot", () => {
    throw new HttpError(418, "teapot", "I am a teapot");
  });
  a.post(
    "/zod",
    async (_r, ctx) => Response.json(await ctx.json(z.object({ n: z.number(), s: z.string() }))),
  );
  const boom = await a.request(req("GET", "/boom"));
  assert.equal(boom.status, 500);
  const text = await boom.text();
  assert.doesNotMatch(text, /secret|\/var\/lib/);
  assert.deepEqual(JSON.parse(text), {
    error: { code: "internal", message: "Internal server error" },
  });
  assert.equal(logged.length, 1);
  const tea = await a.request(req("GET", "/teapot"));
  assert.equal(tea.status, 418);
  assert.deepEqual(await tea.json(), { error: { code: "teapot", message: "I am a teapot" } });
  const bad = await a.request(req("POST", "/zod", {
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ n: "x" }),
  }));
  assert.equal(bad.status, 400);
  const body = await bad.json();
  assert.deepEqual(body.error.fields.map((f: { path: string }) => f.path).sort(), ["n", "s"]);
});

Deno.test("bad JSON is 400, a wrong content type 415", async () => {
  const a = app();
  const bad = await a.request(req("POST", "/echo", {
    headers: { "content-type": "application/json" },
    body: "{nope",
  }));
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error.message, /not valid JSON/);
  const wrong = await a.request(req("POST", "/echo", {
    headers: { "content-type": "text/plain" },
    body: "{}",
  }));
  assert.equal(wrong.status, 415);
  await wrong.body?.cancel();
});

Deno.test("body limit: a declared oversize and a streamed oversize are both 413", async () => {
  const a = app({ bodySize: 100 });
  const declared = await a.request(req("POST", "/echo", {
    headers: { "content-type": "application/json", "content-length": "1000" },
    body: "x".repeat(1000),
  }));
  assert.equal(declared.status, 413);
  await declared.body?.cancel();
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      pulled++;
      if (pulled > 1000) c.close();
      else c.enqueue(new TextEncoder().encode("[1,2,3,4,5,6,7,8,9]"));
    },
  });
  const streamed = await a.request(req("POST", "/echo", {
    headers: { "content-type": "application/json" },
    body: stream,
    // @ts-ignore: duplex is needed for a stream body
    duplex: "half",
  }));
  assert.equal(streamed.status, 413);
  assert.equal((await streamed.json()).error.code, "body_too_large");
  assert.ok(pulled < 20, `stopped reading early (read ${pulled} chunks)`);
});

Deno.test("headers beyond the limit are 431", async () => {
  const r = await app({ headerSize: 2048 }).request(
    req("GET", "/hello", { headers: { "x-big": "a".repeat(3000) } }),
  );
  assert.equal(r.status, 431);
  await r.body?.cancel();
});

Deno.test("a slow handler is cut off at requestTimeout with 503, and sees its signal abort", async () => {
  const a = new WebApp({ requestTimeout: 100 });
  let aborted = false;
  a.get("/slow", async (_r, ctx) => {
    ctx.signal.addEventListener("abort", () => aborted = true);
    await new Promise((r) => setTimeout(r, 300));
    return new Response("late");
  });
  const r = await a.request(req("GET", "/slow"));
  assert.equal(r.status, 503);
  assert.equal(r.headers.get("retry-after"), "1");
  assert.equal((await r.json()).error.code, "timeout");
  assert.ok(aborted);
  await new Promise((r) => setTimeout(r, 250)); // let the handler's timer finish
});

Deno.test("security headers: nosniff, CSP, frame and referrer policy on documents only", async () => {
  const a = app();
  a.get("/page", () => {
    const r = new Response("<p>x</p>");
    r.headers.set("content-type", "text/html");
    return r;
  });
  const json = await a.request(req("GET", "/items/1"));
  assert.equal(json.headers.get("x-content-type-options"), null, "typed data: one header");
  assert.equal(json.headers.get("content-security-policy"), null);
  await json.body?.cancel();
  const all = new WebApp({ securityHeaders: "all" });
  all.get("/j", () => Response.json({}));
  const j = await all.request(req("GET", "/j"));
  assert.equal(j.headers.get("x-content-type-options"), "nosniff", "scope all: on every response");
  await j.body?.cancel();
  const page = await a.request(req("GET", "/page"));
  assert.match(page.headers.get("content-security-policy")!, /frame-ancestors 'none'/);
  assert.equal(page.headers.get("x-frame-options"), "DENY");
  assert.equal(page.headers.get("referrer-policy"), "no-referrer");
  assert.equal(page.headers.get("x-content-type-options"), "nosniff");
  await page.body?.cancel();
  const secure = await a.request(req("GET", "/hello"), { remoteAddr: "::1", secure: true });
  assert.match(secure.headers.get("strict-transport-security")!, /max-age=/);
  await secure.body?.cancel();
});

Deno.test("CORS only for routes that opt in, only for allowed origins, with preflight", async () => {
  const a = new WebApp({
    cors: { origins: ["https://app.example"], credentials: false, maxAge: 60 },
  });
  a.get("/open", () => Response.json({}), { cors: true });
  a.get("/closed", () => Response.json({}));
  const ok = await a.request(req("GET", "/open", { headers: { origin: "https://app.example" } }));
  assert.equal(ok.headers.get("access-control-allow-origin"), "https://app.example");
  await ok.body?.cancel();
  const other = await a.request(
    req("GET", "/open", { headers: { origin: "https://evil.example" } }),
  );
  assert.equal(other.headers.get("access-control-allow-origin"), null);
  await other.body?.cancel();
  const closed = await a.request(
    req("GET", "/closed", { headers: { origin: "https://app.example" } }),
  );
  assert.equal(closed.headers.get("access-control-allow-origin"), null);
  await closed.body?.cancel();
  const pre = await a.request(req("OPTIONS", "/open", {
    headers: { origin: "https://app.example", "access-control-request-method": "GET" },
  }));
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get("access-control-allow-origin"), "https://app.example");
  assert.match(pre.headers.get("access-control-allow-methods")!, /GET/);
});

Deno.test("uploads beyond the file count or file size are 413", async () => {
  const a = new WebApp({ uploadCount: 2, uploadSize: 10, bodySize: 100_000 });
  a.post("/upload", async (_r, ctx) => {
    const f = await ctx.form();
    return Response.json({ n: [...f.keys()].length });
  });
  const form = (n: number, size: number) => {
    const f = new FormData();
    for (let i = 0; i < n; i++) f.append(`f${i}`, new Blob(["x".repeat(size)]), `f${i}.txt`);
    return f;
  };
  assert.equal((await a.request(req("POST", "/upload", { body: form(2, 10) }))).status, 200);
  const many = await a.request(req("POST", "/upload", { body: form(3, 1) }));
  assert.equal(many.status, 413);
  assert.equal((await many.json()).error.code, "too_many_uploads");
  const big = await a.request(req("POST", "/upload", { body: form(1, 11) }));
  assert.equal(big.status, 413);
  assert.equal((await big.json()).error.code, "upload_too_large");
});

Deno.test("SSE sends events as text/event-stream and ends when the client leaves", async () => {
  const a = new WebApp();
  a.get("/events", (_r, ctx) => {
    const sse = new SseStream(ctx.signal, 0);
    sse.send({ event: "tick", id: "1", data: { n: 1 } });
    sse.send({ data: "two\nlines" });
    sse.close();
    return sse.response();
  }, { timeout: 0 });
  const r = await a.request(req("GET", "/events"));
  assert.equal(r.headers.get("content-type"), "text/event-stream; charset=utf-8");
  assert.equal(await r.text(), 'event: tick\nid: 1\ndata: {"n":1}\n\ndata: two\ndata: lines\n\n');
});

Deno.test("metrics count requests by route and status in Prometheus text", async () => {
  const a = app();
  a.get("/never", () => new Response("x"));
  await (await a.request(req("GET", "/items/1"))).body?.cancel();
  await (await a.request(req("GET", "/items/2"))).body?.cancel();
  await (await a.request(req("GET", "/nope"))).body?.cancel();
  assert.equal(a.metrics.count("/items/:id", 200), 2);
  const text = a.metrics.render();
  assert.match(
    text,
    /tern_http_requests_total\{method="GET",route="\/items\/:id",status="200"\} 2/,
  );
  assert.match(
    text,
    /tern_http_request_duration_seconds_bucket\{route="\/items\/:id",le="\+Inf"\} 2/,
  );
  assert.match(text, /tern_process_resident_memory_bytes \d+/);
  assert.doesNotMatch(text, /route="\/never"/, "a route no request reached is not listed");
});

Deno.test("the access log writes combined and JSON lines and rotates", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = new AccessLog({ path: `${dir}/access.log`, maxSize: 4096, maxFiles: 2 });
    const a = app({ accessLog: log });
    await (await a.request(
      req("GET", "/items/7?x=1", { headers: { "user-agent": 'evil"a\tgent' } }),
      { remoteAddr: "10.0.0.9", secure: false },
    )).body?.cancel();
    log.flush();
    const line = (await Deno.readTextFile(`${dir}/access.log`)).trim();
    assert.match(
      line,
      /^10\.0\.0\.9 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/items\/7\?x=1 HTTP\/1\.1" 200 (\d+|-) "-" "evil\\x22a\\x09gent"$/,
    );
    for (let i = 0; i < 100; i++) await (await a.request(req("GET", "/hello"))).body?.cancel();
    log.close();
    assert.ok((await Deno.stat(`${dir}/access.log.1`)).size > 0, "rotated");
    const json = new AccessLog({ path: `${dir}/json.log`, format: "json" });
    const b = app({ accessLog: json });
    await (await b.request(req("GET", "/hello"))).body?.cancel();
    json.close();
    const rec = JSON.parse(await Deno.readTextFile(`${dir}/json.log`));
    assert.equal(rec.path, "/hello");
    assert.equal(rec.status, 200);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without a database the server still serves the site, health and public actions", async () => {
  const { buildApp } = await import("../routes/web_service.ts");
  const { configSchema } = await import("../lib/config/mod.ts");
  const { systemClock } = await import("../lib/clock.ts");
  const { nullLogger } = await import("../lib/log/mod.ts");
  const { app, deps } = buildApp(configSchema.parse({ database: { enabled: false } }), {
    log: nullLogger,
    clock: systemClock,
  });
  await deps.site?.ready;
  app.get("/api/led", () => Response.json({ on: true }));
  const page = await app.request(req("GET", "/"));
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<title>Tern device<\/title>/);
  assert.equal((await app.request(req("GET", "/api/health"))).status, 200);
  assert.deepEqual(await (await app.request(req("GET", "/api/led"))).json(), { on: true });
  const status = await app.request(req("GET", "/api/status"));
  assert.equal(status.status, 401, "no users without a database: protected routes stay closed");
  await status.body?.cancel();
  assert.equal((await app.request(req("POST", "/api/auth/login"))).status, 404);
});

Deno.test("a body that arrives too slowly is 408; a slow handler that read its body is 503", async () => {
  const a = new WebApp({ requestTimeout: 100 });
  a.post("/upload", async (_r, ctx) => Response.json({ n: (await ctx.bytes()).length }));
  a.post("/think", async (_r, ctx) => {
    await ctx.bytes();
    await new Promise((r) => setTimeout(r, 250));
    return new Response("late");
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const trickle = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new Uint8Array(10));
      timer = setTimeout(() => c.close(), 300); // the rest never comes in time
    },
  });
  const slow = await a.request(req("POST", "/upload", {
    body: trickle,
    // @ts-ignore: duplex is needed for a stream body
    duplex: "half",
  }));
  assert.equal(slow.status, 408);
  assert.equal((await slow.json()).error.code, "request_timeout");
  const think = await a.request(req("POST", "/think", { body: "x" }));
  assert.equal(think.status, 503);
  await think.body?.cancel();
  await new Promise((r) => setTimeout(r, 350));
  clearTimeout(timer);
});

Deno.test("invented methods do not grow the metrics", async () => {
  const a = app();
  for (let i = 0; i < 50; i++) {
    await (await a.request(req(`X${i}`, "/hello"))).body?.cancel();
  }
  const text = a.metrics.render();
  assert.doesNotMatch(text, /method="X\d+"/);
  assert.match(text, /method="OTHER",route="405",status="405"\} 50/);
});

Deno.test('securityHeaders "documents": headers on HTML only, data responses untouched', async () => {
  const a = new WebApp({ securityHeaders: "documents" });
  a.get("/data", () => Response.json({ a: 1 }));
  a.get("/page", () => {
    const r = new Response("<p>x</p>");
    r.headers.set("content-type", "text/html; charset=utf-8");
    return r;
  });
  const data = await a.request(req("GET", "/data"));
  assert.equal(data.headers.get("x-content-type-options"), null);
  await data.body?.cancel();
  const page = await a.request(req("GET", "/page"));
  assert.equal(page.headers.get("x-content-type-options"), "nosniff");
  assert.match(page.headers.get("content-security-policy")!, /frame-ancestors/);
  await page.body?.cancel();
});

Deno.test("static paths answer OPTIONS with Allow and other methods with 405", async () => {
  const a = new WebApp();
  a.fallback = () => new Response("file");
  const opt = await a.request(req("OPTIONS", "/index.html"));
  assert.equal(opt.status, 204);
  assert.equal(opt.headers.get("allow"), "GET, HEAD, OPTIONS");
  const post = await a.request(req("POST", "/index.html", { body: "x" }));
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD, OPTIONS");
  await post.body?.cancel();
  const api = await a.request(req("POST", "/api/nothing"));
  assert.equal(api.status, 404, "unknown API paths stay 404");
  await api.body?.cancel();
});

Deno.test("a database busy error is 503 with Retry-After; too large is 413", async () => {
  const { DbError } = await import("../lib/db/mod.ts");
  const a = app();
  a.get("/busy", () => {
    throw new DbError("busy", "The database is locked by another process");
  });
  a.get("/big", () => {
    throw new DbError("too_large", "Item over 400 KB");
  });
  const busy = await a.request(req("GET", "/busy"));
  assert.equal(busy.status, 503);
  assert.equal(busy.headers.get("retry-after"), "1");
  assert.equal((await busy.json()).error.code, "busy");
  const big = await a.request(req("GET", "/big"));
  assert.equal(big.status, 413);
  assert.equal((await big.json()).error.code, "too_large");
});
