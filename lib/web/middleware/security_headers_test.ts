import assert from "node:assert/strict";
import { WebApp } from "../app.ts";
import { isDocumentType, SecurityHeaders } from "./security_headers.ts";

Deno.test("security headers: documents get CSP and friends, data none, private answers no-store", async () => {
  const app = new WebApp({ csp: "default-src 'self'" });
  app.get("/page", () => new Response("<p>", { headers: { "content-type": "text/html" } }));
  app.get("/data", () => Response.json({ a: 1 }));
  app.get(
    "/own",
    () =>
      new Response("<p>", {
        headers: { "content-type": "text/html", "x-frame-options": "SAMEORIGIN" },
      }),
  );
  const page = await app.request(new Request("http://h/page"));
  assert.equal(page.headers.get("content-security-policy"), "default-src 'self'");
  assert.equal(page.headers.get("x-frame-options"), "DENY");
  assert.equal(page.headers.get("x-content-type-options"), "nosniff");
  assert.equal(page.headers.get("referrer-policy"), "no-referrer");
  const data = await app.request(new Request("http://h/data"));
  assert.deepEqual([...data.headers.keys()], ["content-type"], "a public data answer is untouched");
  assert.equal(
    (await app.request(new Request("http://h/own"))).headers.get("x-frame-options"),
    "SAMEORIGIN",
  );
  const tls = await app.request(new Request("https://h/data"), { remoteAddr: "::1", secure: true });
  assert.equal(tls.headers.get("strict-transport-security"), "max-age=31536000");
  // Private: an immutable answer is copied, not failed.
  const h = new SecurityHeaders("default-src 'none'", "all");
  const out = h.apply(Response.redirect("http://h/x", 302), false, true);
  assert.equal(out.headers.get("cache-control"), "no-store");
  assert.equal(out.headers.get("x-content-type-options"), "nosniff");
  assert.equal(out.headers.get("location"), "http://h/x");
});

Deno.test("isDocumentType: HTML, SVG, XML and untyped are documents; JSON and text are not", () => {
  for (
    const t of ["text/html; charset=utf-8", "image/svg+xml", "application/xml", "TEXT/HTML", null]
  ) {
    assert.ok(isDocumentType(t), String(t));
  }
  for (const t of ["application/json", "text/plain", "image/png"]) assert.ok(!isDocumentType(t), t);
});

Deno.test("dataHeaders(): a data answer built with them is one apply() leaves as it is", () => {
  for (const scope of ["documents", "all"] as const) {
    const s = new SecurityHeaders("default-src 'self'", scope);
    for (const priv of [false, true]) {
      const built = new Response("{}", {
        headers: [["content-type", "application/json"], ...s.dataHeaders(priv)],
      });
      const before = [...built.headers];
      const applied = s.apply(built, false, priv);
      assert.deepEqual([...applied.headers], before, `${scope}, private: ${priv}`);
    }
  }
  assert.deepEqual(new SecurityHeaders("x", "all").dataHeaders(true), [
    ["x-content-type-options", "nosniff"],
    ["cache-control", "no-store"],
  ]);
  assert.deepEqual(new SecurityHeaders("x").dataHeaders(false), []);
});
