import assert from "node:assert/strict";
import { WebApp } from "../app.ts";

Deno.test("cors: an allowed origin gets its headers and a preflight; others get none", async () => {
  const app = new WebApp({
    cors: { origins: ["https://app.example"], credentials: true, maxAge: 600 },
  });
  app.get("/c", () => new Response("ok"), { cors: true });
  app.get("/plain", () => new Response("ok"));
  const get = (path: string, origin: string) =>
    app.request(new Request(`http://h${path}`, { headers: { origin } }));
  const ok = await get("/c", "https://app.example");
  assert.equal(ok.headers.get("access-control-allow-origin"), "https://app.example");
  assert.equal(ok.headers.get("access-control-allow-credentials"), "true");
  assert.equal(ok.headers.get("vary"), "Origin");
  assert.equal(
    (await get("/c", "https://evil.example")).headers.get("access-control-allow-origin"),
    null,
  );
  assert.equal(
    (await get("/plain", "https://app.example")).headers.get("access-control-allow-origin"),
    null,
  );
  const pre = await app.request(
    new Request("http://h/c", {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-headers": "x-a" },
    }),
  );
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get("access-control-allow-headers"), "x-a");
  assert.equal(pre.headers.get("access-control-max-age"), "600");
  assert.match(pre.headers.get("access-control-allow-methods")!, /GET/);
});
