import assert from "node:assert/strict";
import { WebApp } from "../app.ts";
import { bodyLimit, headerBytes, headerLimit } from "./limits.ts";

Deno.test("headerBytes counts the request line and every header", () => {
  const req = new Request("http://x/p", { headers: { a: "12345", b: "6" } });
  assert.equal(headerBytes(req), 3 + "http://x/p".length + (1 + 5 + 4) + (1 + 1 + 4));
});

Deno.test("headerLimit: 431 beyond the limit, before routing; within it the request goes on", async () => {
  const app = new WebApp({ headerSize: 200 });
  app.get("/x", () => new Response("ok"));
  const big = await app.request(new Request("http://h/x", { headers: { a: "b".repeat(300) } }));
  assert.equal(big.status, 431);
  assert.equal((await big.json()).error.code, "headers_too_large");
  const none = await app.request(new Request("http://h/nope", { headers: { a: "b".repeat(300) } }));
  assert.equal(none.status, 431, "checked for unrouted paths too");
  assert.equal((await app.request(new Request("http://h/x"))).status, 200);
  // The middleware alone: it throws the error the boundary turns into 431.
  const mw = headerLimit(10);
  assert.throws(
    () => mw(new Request("http://h/long"), {} as never, () => new Response()),
    /431|exceed/,
  );
});

/** A POST of `body` to `/b`, with a declared length when `length` is given. */
const post = (body: string, length?: number) =>
  new Request("http://h/b", {
    method: "POST",
    body,
    ...(length === undefined ? {} : { headers: { "content-length": String(length) } }),
  });

Deno.test("bodyLimit: a declared oversize is 413 at once; a streamed one fails its reader with 413", async () => {
  const app = new WebApp({ bodySize: 10 });
  let ran = 0;
  app.post("/b", async (_req, ctx) => {
    ran++;
    return new Response(await ctx.text());
  });
  const declared = await app.request(post("x".repeat(11), 11));
  assert.equal(declared.status, 413);
  assert.equal(ran, 0, "the handler never ran");
  const chunks = ["12345", "67890", "1"].map((c) => new TextEncoder().encode(c));
  const streamed = await app.request(
    new Request("http://h/b", {
      method: "POST",
      body: new ReadableStream({
        pull(c) {
          const next = chunks.shift();
          next ? c.enqueue(next) : c.close();
        },
      }),
      // @ts-ignore: duplex is needed for a stream body
      duplex: "half",
    }),
  );
  assert.equal(streamed.status, 413);
  assert.equal((await streamed.json()).error.code, "body_too_large");
  const ok = await app.request(post("1234567890"));
  assert.equal(await ok.text(), "1234567890");
  // A route's own limit.
  app.post("/big", async (_req, ctx) => new Response(String((await ctx.bytes()).length)), {
    bodySize: 100,
  });
  const big = await app.request(
    new Request("http://h/big", { method: "POST", body: "y".repeat(50) }),
  );
  assert.equal(await big.text(), "50");
  // A length declared within the limit is read whole; an in-process body longer than its
  // declared length (the wire's engine would refuse it) is still held to the limit.
  const whole = await app.request(post("12345", 5));
  assert.equal(await whole.text(), "12345");
  const lying = await app.request(post("x".repeat(50), 5));
  assert.equal(lying.status, 413);
  assert.equal(typeof bodyLimit(1), "function");
});
