import assert from "node:assert/strict";
import {
  fastStaticType,
  rawList,
  responseDone,
  responseList,
  SecurityHeaders,
} from "./security.ts";

const CSP = "default-src 'self'";

Deno.test("security headers land on a fresh response (raw list) like appends would", () => {
  const s = new SecurityHeaders(CSP, "all");
  const json = s.apply(Response.json({ a: 1 }), true);
  assert.deepEqual([...json.headers], [
    ["content-type", "application/json"],
    ["strict-transport-security", "max-age=31536000"],
    ["x-content-type-options", "nosniff"],
  ]);
  const html = new Response("<p>", {
    headers: { "Content-Type": "text/html", "X-Frame-Options": "SAMEORIGIN" },
  });
  assert.ok(rawList(html.headers), "the runtime exposes the list (fast path under test)");
  s.apply(html, false);
  assert.equal(html.headers.get("x-frame-options"), "SAMEORIGIN", "the handler's own value wins");
  assert.equal(html.headers.get("content-security-policy"), CSP);
  assert.equal(html.headers.get("referrer-policy"), "no-referrer");
  assert.equal(html.headers.get("x-content-type-options"), "nosniff");
  assert.equal(html.headers.get("strict-transport-security"), null, "no HSTS without TLS");
});

Deno.test("by default only documents get security headers: a typed data response stays at one header", () => {
  const s = new SecurityHeaders(CSP);
  assert.equal(s.scope, "documents");
  const json = s.apply(Response.json({ a: 1 }), false);
  assert.deepEqual([...json.headers], [["content-type", "application/json"]]);
  const text = s.apply(new Response("x"), false);
  assert.deepEqual([...text.headers], [["content-type", "text/plain;charset=UTF-8"]]);
  for (
    const type of ["image/svg+xml", "application/xhtml+xml", "text/xml", "TEXT/HTML; charset=utf-8"]
  ) {
    const doc = s.apply(new Response("<x/>", { headers: { "content-type": type } }), false);
    assert.equal(doc.headers.get("x-content-type-options"), "nosniff", type);
    assert.equal(doc.headers.get("content-security-policy"), CSP, type);
  }
  const untyped = s.apply(new Response(new Uint8Array([60, 112, 62])), false);
  assert.equal(
    untyped.headers.get("x-content-type-options"),
    "nosniff",
    "no type: it would be sniffed",
  );
  assert.equal(untyped.headers.get("content-security-policy"), CSP);
  const tls = s.apply(Response.json({}), true);
  assert.equal(tls.headers.get("strict-transport-security"), "max-age=31536000");
});

Deno.test("immutable headers are copied, and a CSP no header may carry is refused at start", () => {
  const err = Response.redirect("http://dev.local/", 302);
  assert.equal(rawList(err.headers), undefined);
  const out = new SecurityHeaders(CSP).apply(err, false);
  assert.notEqual(out, err);
  assert.equal(out.headers.get("x-content-type-options"), "nosniff");
  assert.throws(() => new SecurityHeaders("default-src 'self'\r\nX-Evil: 1"), TypeError);
});

Deno.test("a plain data response is left untouched, on the runtime's fastest path", () => {
  const res = new Response("hello");
  assert.equal(
    fastStaticType(res),
    "text/plain;charset=UTF-8",
    "the runtime exposes the fast-path slots",
  );
  assert.equal(fastStaticType(Response.json({})), "application/json");
  assert.equal(fastStaticType(new Response(new Uint8Array(1))), null);
  assert.equal(fastStaticType(new Response("x", { status: 404 })), undefined);
  const out = new SecurityHeaders(CSP).apply(res, false);
  assert.equal(out, res);
  assert.equal(fastStaticType(out), "text/plain;charset=UTF-8", "still on the fast path");
  const html = new SecurityHeaders(CSP).apply(
    new Response("<p>", { headers: { "content-type": "text/html" } }),
    false,
  );
  assert.equal(html.headers.get("content-security-policy"), CSP);
});

Deno.test("responseList: every kind of response takes pushed headers, and the wire carries them", async () => {
  const kinds: [string, () => Response, string | null][] = [
    [
      "lone JSON type (lazy slot)",
      () => new Response("{}", { headers: { "content-type": "application/json" } }),
      "application/json",
    ],
    ["lazy string body", () => new Response("hi"), "text/plain;charset=UTF-8"],
    ["Response.json", () => Response.json({ a: 1 }), "application/json"],
    ["bytes, no type", () => new Response(new Uint8Array([1])), null],
    [
      "two headers (native answer)",
      () => new Response("x", { headers: { "content-type": "text/csv", "x-a": "1" } }),
      "text/csv",
    ],
    ["headers already read", () => {
      const r = new Response("x", { headers: { "content-type": "text/csv" } });
      r.headers.get("content-type");
      return r;
    }, "text/csv"],
    [
      "404",
      () => new Response("x", { status: 404, headers: { "content-type": "application/json" } }),
      "application/json",
    ],
  ];
  // Pushed after, or given to responseList to add (odd numbers).
  const build = (n: number) => {
    const i = n >> 1;
    const res = kinds[i]![1]();
    if (n % 2 === 1) {
      const l = responseList(res, ["cache-control", "no-store"]);
      assert.ok(l, kinds[i]![0]);
      assert.equal(l.filter(([k]) => k === "cache-control").length, 1, "added once");
      return res;
    }
    const l = responseList(res);
    assert.ok(l, kinds[i]![0]);
    l.push(["cache-control", "no-store"]);
    responseDone(res);
    return res;
  };
  for (let n = 0; n < 2 * kinds.length; n++) {
    const res = build(n), name = `${kinds[n >> 1]![0]} (${n % 2 ? "added" : "pushed"})`;
    assert.equal(fastStaticType(res), undefined, `${name}: off the fast path`);
    assert.equal(res.headers.get("cache-control"), "no-store", name);
    assert.equal(res.headers.get("content-type"), kinds[n >> 1]![2], name);
  }
  assert.equal(responseList(Response.redirect("http://x/", 302)), undefined, "immutable headers");
  // What the runtime sends: build each kind in a real handler and read the wire.
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    return build(Number(new URL(req.url).pathname.slice(1)));
  });
  try {
    for (let n = 0; n < 2 * kinds.length; n++) {
      const r = await fetch(`http://127.0.0.1:${server.addr.port}/${n}`);
      await r.body?.cancel();
      const name = `wire: ${kinds[n >> 1]![0]} (${n % 2 ? "added" : "pushed"})`;
      assert.equal(r.headers.get("cache-control"), "no-store", name);
      assert.equal(r.headers.get("content-type"), kinds[n >> 1]![2], name);
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("a private answer gets no-store once, and keeps its own cache policy", () => {
  const s = new SecurityHeaders(CSP);
  const json = s.apply(
    new Response("{}", { headers: { "content-type": "application/json" } }),
    false,
    true,
  );
  assert.deepEqual([...json.headers], [["cache-control", "no-store"], [
    "content-type",
    "application/json",
  ]]);
  const own = new Response("{}", {
    headers: { "content-type": "application/json", "cache-control": "max-age=5" },
  });
  assert.equal(s.apply(own, false, true).headers.get("cache-control"), "max-age=5");
  const redirect = s.apply(Response.redirect("http://x/", 302), false, true);
  assert.equal(redirect.headers.get("cache-control"), "no-store", "immutable headers are copied");
  const pub = s.apply(
    new Response("{}", { headers: { "content-type": "application/json" } }),
    false,
  );
  assert.equal(pub.headers.get("cache-control"), null);
});
