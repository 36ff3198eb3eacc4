import { equal, rejects, throws } from "node:assert/strict";
import { configSchema } from "../../config/mod.ts";
import { checkStatusDetails } from "./jobs.ts";
import {
  checkDocument,
  compareVersions,
  parseDocument,
  signedMessage,
  UpdateRefused,
  verifySignature,
} from "./document.ts";

const b64 = (b: ArrayBuffer) => btoa(String.fromCharCode(...new Uint8Array(b)));

async function signedDoc(alg: "ed25519" | "ecdsa-p256") {
  const kp = await crypto.subtle.generateKey(
    (alg === "ed25519"
      ? { name: "Ed25519" }
      : { name: "ECDSA", namedCurve: "P-256" }) as EcKeyGenParams,
    true,
    ["sign", "verify"],
  ) as CryptoKeyPair;
  const d = {
    version: "2.0.0",
    target: "aarch64-unknown-linux-gnu",
    size: 10,
    sha256: "a".repeat(64),
  } as const;
  const sig = await crypto.subtle.sign(
    alg === "ed25519" ? { name: "Ed25519" } : { name: "ECDSA", hash: "SHA-256" },
    kp.privateKey,
    signedMessage(d),
  );
  const doc = parseDocument({
    operation: "tern.update",
    ...d,
    url: "https://example.com/t",
    signature: { alg, keyId: "k", value: b64(sig) },
  });
  const keys = [{ id: "k", alg, key: b64(await crypto.subtle.exportKey("spki", kp.publicKey)) }];
  return { doc, keys };
}

Deno.test("verifySignature() accepts Ed25519 and ECDSA P-256 signatures and nothing relabelled", async () => {
  for (const alg of ["ed25519", "ecdsa-p256"] as const) {
    const { doc, keys } = await signedDoc(alg);
    equal(await verifySignature(doc, keys), true, alg);
    equal(await verifySignature({ ...doc, version: "2.0.1" }, keys), false, `${alg} relabelled`);
    equal(await verifySignature(doc, [{ ...keys[0]!, id: "other" }]), false, `${alg} key id`);
  }
});

Deno.test("checkDocument() refuses a wrong target, the same version and a downgrade unless allowed", async () => {
  const { doc, keys } = await signedDoc("ed25519");
  const config = configSchema.parse({ update: { keys } }).update;
  const refused = (current: string, target: string, d = doc) =>
    rejects(checkDocument(d, { current, target, config }), UpdateRefused);
  await refused("1.0.0", "x86_64-unknown-linux-gnu");
  await refused("2.0.0", "aarch64-unknown-linux-gnu");
  await refused("3.0.0", "aarch64-unknown-linux-gnu");
  await checkDocument({ ...doc, allowDowngrade: true }, {
    current: "3.0.0",
    target: "aarch64-unknown-linux-gnu",
    config,
  });
  await checkDocument(doc, { current: "1.9.9", target: "aarch64-unknown-linux-gnu", config });
});

Deno.test("parseDocument() names the bad field; compareVersions() orders pre-releases first", () => {
  throws(() => parseDocument({ operation: "tern.update", version: "x" }), /"version"/);
  equal(compareVersions("1.2.0", "1.10.0"), -1);
  equal(compareVersions("1.2.0-rc.1", "1.2.0"), -1);
  equal(compareVersions("1.2.0", "1.2.0"), 0);
});

Deno.test("checkStatusDetails() keeps AWS's rules: bad keys refused, values cut to 1024, no control characters", () => {
  throws(() => checkStatusDetails({ "bad key": "x" }), RangeError);
  const d = checkStatusDetails({ message: "a\nb" + "c".repeat(2000), empty: "" });
  equal(d.message!.length, 1024);
  equal(d.message!.slice(0, 3), "a b");
  equal(d.empty, "-");
});
