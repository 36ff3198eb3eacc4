import assert from "node:assert/strict";
import { pinWebClasses } from "./_globals.ts";
import { WebApp } from "./app.ts";

Deno.test("a WebApp pins Response, Request, Headers and ReadableStream as plain values of globalThis, the same classes", () => {
  const names = ["Response", "Request", "Headers", "ReadableStream"];
  const before = names.map((n) => (globalThis as Record<string, unknown>)[n]);
  new WebApp();
  pinWebClasses(); // idempotent
  names.forEach((name, i) => {
    const d = Object.getOwnPropertyDescriptor(globalThis, name)!;
    assert.equal(d.get, undefined, `${name} is still a getter`);
    assert.equal(d.value, before[i]);
    assert.ok(d.writable && d.configurable && !d.enumerable, `${name}: ${JSON.stringify(d)}`);
  });
  // Still the runtime's classes: what a handler builds by the global name behaves as before.
  const r = new Response("x", { headers: { "content-type": "text/plain" } });
  assert.equal(r.headers.get("content-type"), "text/plain");
});
