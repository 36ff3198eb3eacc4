import assert from "node:assert/strict";
import { headerBytes, WebApp } from "./app.ts";
import { requestHeaderList, type WebContext } from "./context.ts";
import { FakeClock } from "../clock.ts";

Deno.test("headerBytes of a real Deno.serve request is the exact header size", async () => {
  let got = -1;
  let want = -1;
  let raw: unknown;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    // The fast path reads Deno's internal header slot: fail loudly if an upgrade removes it.
    raw = requestHeaderList(req);
    got = headerBytes(req);
    want = req.method.length + req.url.length;
    for (const [k, v] of req.headers) want += k.length + v.length + 4;
    return new Response("ok");
  });
  try {
    const r = await fetch(`http://127.0.0.1:${server.addr.port}/x?y=1`, {
      headers: { "x-long": "a".repeat(5000), cookie: "k=v" },
    });
    await r.text();
    assert.ok(want > 5000);
    assert.equal(got, want);
    assert.ok(Array.isArray(raw), "the runtime exposes the raw request header list");
  } finally {
    await server.shutdown();
  }
});

Deno.test("headerBytes of a constructed request counts every header", () => {
  const req = new Request("http://x/p", { headers: { a: "12345", b: "6" } });
  assert.equal(headerBytes(req), 3 + "http://x/p".length + (1 + 5 + 4) + (1 + 1 + 4));
});

Deno.test("ctx.header reads the raw list like Headers.get (any case, repeats joined)", async () => {
  const { WebContext } = await import("./context.ts");
  const { nullLogger } = await import("../log/mod.ts");
  const req = new Request("http://x/", { headers: { cookie: "a=1", "x-xsrf-token": "t" } });
  const ctx = new WebContext(
    req,
    "127.0.0.1",
    nullLogger,
    {
      bodySize: 1,
      uploadCount: 1,
      uploadSize: 1,
    },
    "/",
    false,
  );
  assert.equal(ctx.header("cookie"), "a=1", "from the Headers object without a raw list");
  ctx.rawHeaders = [["Host", "a"], ["COOKIE", " a=1 "], ["Cookie", "b=2"], ["X-Xsrf-Token", "t"]];
  assert.equal(ctx.header("cookie"), "a=1, b=2");
  assert.equal(ctx.header("x-xsrf-token"), "t");
  assert.equal(ctx.header("authorization"), null);
});

Deno.test("each route's last request objects outlive a full GC (the JIT keeps the request path's code)", async () => {
  // In a child with gc exposed: what an idle agent's settle does between two bursts.
  const script = `
    import { WebApp } from "${new URL("./app.ts", import.meta.url).href}";
    const app = new WebApp();
    app.get("/a", () => Response.json({ ok: true }));
    app.get("/b/:id", () => new Response("b"));
    const once = async (answer) => {
      const res = await answer();
      await res.arrayBuffer();
      return new WeakRef(res);
    };
    const ref = await once(() => app.request(new Request("http://x/a")));
    await once(() => app.request(new Request("http://x/b/1"))); // another route's request comes later
    const gone = await once(() => Response.json({ other: true }));
    await new Promise((r) => setTimeout(r, 0));
    gc({ type: "major", execution: "sync", flavor: "last-resort" });
    console.log(JSON.stringify({ kept: ref.deref() !== undefined, control: gone.deref() === undefined }));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--expose-gc", script],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(out.success);
  const got = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.deepEqual(got, { kept: true, control: true });
});

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

Deno.test("a request's duration comes from the wall clock; one spanning a clock step is counted without it", async () => {
  const realDate = Date.now, realPerf = performance.now;
  let wall = 1_800_000_000_000, mono = 5_000;
  Date.now = () => wall;
  performance.now = () => mono;
  try {
    const a = new WebApp();
    a.get("/step", () => {
      wall += 3_600_000; // NTP sets the clock an hour ahead while the request runs
      mono += 2;
      return new Response("ok");
    });
    a.get("/back", () => {
      wall -= 10_000;
      mono += 2;
      return new Response("ok");
    });
    a.get("/slow", () => {
      wall += 1_500; // a handler that really takes 1.5 s: both clocks move
      mono += 1_500;
      return new Response("ok");
    });
    a.get("/fast", () => {
      wall += 3;
      mono += 3;
      return new Response("ok");
    });
    for (const p of ["/step", "/back", "/slow", "/fast"]) {
      await (await a.request(new Request(`http://x${p}`))).text();
    }
    const text = a.metrics.render();
    for (const p of ["/step", "/back", "/slow", "/fast"]) {
      assert.equal(a.metrics.count(p, 200), 1, `${p} is counted`);
    }
    assert.doesNotMatch(text, /duration_seconds_count\{route="\/step"\}/, "no duration for a step");
    assert.doesNotMatch(text, /duration_seconds_count\{route="\/back"\}/, "nor for a step back");
    assert.match(text, /duration_seconds_bucket\{route="\/slow",le="1"\} 0\n/);
    assert.match(text, /duration_seconds_bucket\{route="\/slow",le="2.5"\} 1\n/);
    assert.match(text, /duration_seconds_sum\{route="\/slow"\} 1.500000\n/);
    assert.match(text, /duration_seconds_bucket\{route="\/fast",le="0.005"\} 1\n/);
    assert.match(text, /duration_seconds_sum\{route="\/fast"\} 0.003000\n/);
  } finally {
    Date.now = realDate;
    performance.now = realPerf;
  }
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
