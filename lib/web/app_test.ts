import assert from "node:assert/strict";
import { WebApp } from "./app.ts";
import type { WebContext } from "./context.ts";
import { FakeClock } from "../clock.ts";

Deno.test("route parameters reach the handler decoded; a malformed escape is 400 bad_path", async () => {
  const app = new WebApp();
  app.get("/f/:name", (_req, ctx) => new Response(ctx.params.name));
  assert.equal(await (await app.request(new Request("http://x/f/a%20b"))).text(), "a b");
  const bad = await app.request(new Request("http://x/f/%E0%A4%A"));
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.code, "bad_path");
});

Deno.test("ctx.now is when the request arrived, on the app's clock", async () => {
  const seen: number[] = [];
  const handler = (_req: Request, ctx: WebContext) => {
    seen.push(ctx.now);
    return new Response("ok");
  };
  const fake = new FakeClock(1_800_000_000_000);
  const a = new WebApp({ clock: fake }).get("/t", handler);
  await (await a.request(new Request("http://x/t"))).text();
  await fake.advance(1234);
  await (await a.request(new Request("http://x/t"))).text();
  assert.deepEqual(seen, [1_800_000_000_000, 1_800_000_001_234]);

  seen.length = 0;
  const sys = new WebApp().get("/t", handler);
  const before = Date.now();
  await (await sys.request(new Request("http://x/t"))).text();
  await new Promise((r) => setTimeout(r, 30));
  await (await sys.request(new Request("http://x/t"))).text();
  const after = Date.now();
  assert.ok(seen[0]! >= before && seen[1]! <= after + 1, `${seen} within ${before}..${after}`);
  assert.ok(seen[1]! - seen[0]! >= 29, "later for a later request");
  assert.ok(Number.isInteger(seen[0]) && Number.isInteger(seen[1]), "whole milliseconds");
});

Deno.test("ctx.text: invalid UTF-8 is a 400 that changes nothing; the next body decodes as usual", async () => {
  const app = new WebApp();
  const seen: string[] = [];
  app.post("/echo", async (_req, ctx) => {
    const t = await ctx.text();
    seen.push(t);
    return new Response(t);
  });
  const post = (body: Uint8Array<ArrayBuffer>) =>
    app.request(new Request("http://x/echo", { method: "POST", body }));
  const bad = await post(new Uint8Array([0x61, 0xff, 0xfe, 0x62]));
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error.message, /not valid UTF-8/);
  const good = await post(new TextEncoder().encode("héllo"));
  assert.equal(good.status, 200);
  assert.equal(await good.text(), "héllo");
  assert.deepEqual(seen, ["héllo"]);
});

Deno.test("repeated and alternating URLs each get their own path and query", async () => {
  const app = new WebApp();
  app.get(
    "/a/:x",
    (_r, ctx) => Response.json({ path: ctx.path, x: ctx.params.x, q: ctx.url.search }),
  );
  const seen = async (url: string) => await (await app.request(new Request(url))).json();
  for (
    const [url, want] of [
      ["http://h/a/1?k=1", { path: "/a/1", x: "1", q: "?k=1" }],
      ["http://h/a/1?k=1", { path: "/a/1", x: "1", q: "?k=1" }],
      ["http://h/a/1?k=2", { path: "/a/1", x: "1", q: "?k=2" }],
      ["http://h/a/2", { path: "/a/2", x: "2", q: "" }],
      ["http://h/a/1?k=1", { path: "/a/1", x: "1", q: "?k=1" }],
      ["http://other:8/a/3?z", { path: "/a/3", x: "3", q: "?z" }],
    ] as const
  ) assert.deepEqual(await seen(url), want, url);
});

Deno.test("a request's duration is recorded per route, in wall-clock milliseconds", async () => {
  const realDate = Date.now;
  let wall = 1_800_000_000_000;
  Date.now = () => wall;
  try {
    const a = new WebApp();
    a.get("/slow", () => {
      wall += 1_500; // a handler that takes 1.5 s
      return new Response("ok");
    });
    a.get("/fast", () => {
      wall += 3;
      return new Response("ok");
    });
    a.get("/back", () => {
      wall -= 10_000; // the clock set back meanwhile: counted, as 0
      return new Response("ok");
    });
    for (const p of ["/slow", "/fast", "/back"]) {
      await (await a.request(new Request(`http://x${p}`))).text();
    }
    const text = a.metrics.render();
    assert.match(text, /duration_seconds_bucket\{route="\/slow",le="1"\} 0\n/);
    assert.match(text, /duration_seconds_bucket\{route="\/slow",le="2.5"\} 1\n/);
    assert.match(text, /duration_seconds_sum\{route="\/slow"\} 1.500000\n/);
    assert.match(text, /duration_seconds_bucket\{route="\/fast",le="0.005"\} 1\n/);
    assert.match(text, /duration_seconds_sum\{route="\/back"\} 0.000000\n/);
  } finally {
    Date.now = realDate;
  }
});

Deno.test("middleware added with use() runs after auth, before the handler, and can answer", async () => {
  const order: string[] = [];
  const a = new WebApp();
  a.use((req, ctx, next) => {
    order.push(`mw ${ctx.route}`);
    if (req.headers.get("x-stop")) return new Response("stopped", { status: 409 });
    return next(req, ctx);
  });
  a.get("/h", () => {
    order.push("handler");
    return new Response("ok");
  });
  assert.equal(await (await a.request(new Request("http://x/h"))).text(), "ok");
  const stopped = await a.request(new Request("http://x/h", { headers: { "x-stop": "1" } }));
  assert.equal(stopped.status, 409);
  assert.deepEqual(order, ["mw /h", "handler", "mw /h"]);
  // A synchronous chain stays synchronous (the runtime's fast path).
  assert.ok(a.request(new Request("http://x/h")) instanceof Response);
});
