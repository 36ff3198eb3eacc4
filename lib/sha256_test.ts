import assert from "node:assert/strict";
import { sha256, sha256Hex } from "./sha256.ts";

async function webDigest(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("sha256Hex gives the FIPS 180-4 test vectors", () => {
  assert.equal(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(
    sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(
    sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
  assert.equal(sha256Hex("héllo ☃"), sha256Hex(new TextEncoder().encode("héllo ☃")));
});

Deno.test("sha256 matches WebCrypto for every length around the block and padding edges", async () => {
  const data = crypto.getRandomValues(new Uint8Array(300));
  for (let n = 0; n <= 300; n++) {
    const slice = data.slice(0, n);
    assert.equal(sha256Hex(slice), await webDigest(slice), `length ${n}`);
  }
  const big = new Uint8Array(1_000_003).map((_, i) => (i * 31) & 255);
  assert.equal(sha256Hex(big), await webDigest(big));
  assert.equal(sha256(big).length, 32);
});
