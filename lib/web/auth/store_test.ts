import assert from "node:assert/strict";
import { secretId } from "./store.ts";

async function webDigest(text: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("secretId() is the SHA-256 hex of the UTF-8 secret", async () => {
  assert.equal(
    await secretId("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  for (
    const s of ["", "héllo ☃", "x".repeat(55), "x".repeat(56), "x".repeat(64), "t".repeat(1000)]
  ) {
    assert.equal(await secretId(s), await webDigest(s), `length ${s.length}`);
  }
});
