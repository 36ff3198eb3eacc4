import assert from "node:assert/strict";
import { pinWebClasses, RequestClass, ResponseClass } from "./_globals.ts";

Deno.test("pinWebClasses: Response, Request and Headers become plain values of globalThis, the same classes", () => {
  const headers = globalThis.Headers;
  pinWebClasses();
  pinWebClasses(); // idempotent
  const classes = [["Response", ResponseClass], ["Request", RequestClass], ["Headers", headers]];
  for (const [name, cls] of classes as [string, unknown][]) {
    const d = Object.getOwnPropertyDescriptor(globalThis, name)!;
    assert.equal(d.get, undefined, `${name} is still a getter`);
    assert.equal(d.value, cls);
    assert.ok(d.writable && d.configurable && !d.enumerable, `${name}: ${JSON.stringify(d)}`);
  }
  // Still the runtime's classes: what a handler builds by the global name is a real Response.
  const r = new Response("x", { headers: { "content-type": "text/plain" } });
  assert.ok(r instanceof ResponseClass);
  assert.equal(r.headers.get("content-type"), "text/plain");
});
