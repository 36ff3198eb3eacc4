import assert from "node:assert/strict";
import { WebApp } from "../app.ts";

Deno.test("deadline: a slow handler is aborted and answered 503; a slow body 408; a fast one passes", async () => {
  const app = new WebApp({ requestTimeout: 50 });
  let aborted: unknown;
  app.get("/slow", (_r, ctx) =>
    new Promise<Response>((resolve) => {
      ctx.signal.addEventListener("abort", () => {
        aborted = ctx.signal.reason;
        resolve(new Response("late"));
      });
    }));
  app.get("/fast", () => Promise.resolve(new Response("ok")));
  app.get("/none", () => new Promise((r) => setTimeout(() => r(new Response("ok")), 80)), {
    timeout: 0,
  });
  app.post("/upload", async (_r, ctx) => new Response(await ctx.text()));
  const slow = await app.request(new Request("http://h/slow"));
  assert.equal(slow.status, 503);
  assert.equal(slow.headers.get("retry-after"), "1");
  assert.equal((aborted as DOMException).name, "TimeoutError");
  assert.equal(await (await app.request(new Request("http://h/fast"))).text(), "ok");
  assert.equal(
    await (await app.request(new Request("http://h/none"))).text(),
    "ok",
    "timeout 0: none",
  );
  const body = await app.request(
    new Request("http://h/upload", {
      method: "POST",
      body: new ReadableStream({ pull: () => new Promise(() => {}) }), // never sends a byte
      // @ts-ignore: duplex is needed for a stream body
      duplex: "half",
    }),
  );
  assert.equal(body.status, 408);
});
