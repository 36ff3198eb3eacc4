import assert from "node:assert/strict";
import { buildCsr, certInfo, generateKeyPem, keyMatchesCert, keyPairFromPem } from "./csr.ts";
import { templateParameters } from "./facts.ts";
import { x509 } from "./_x509.ts";
import { configSchema } from "../../config/mod.ts";

Deno.test("a device key makes a CSR that verifies, with the CN asked for and the key's public half", async () => {
  const key = await generateKeyPem();
  assert.match(key, /^-----BEGIN PRIVATE KEY-----\n/);
  const csr = new x509.Pkcs10CertificateRequest(await buildCsr(key, "pump-42"));
  assert.ok(await csr.verify());
  assert.deepEqual(csr.subjectName.getField("CN"), ["pump-42"]);
  assert.ok(
    !(await buildCsr(key, "x")).includes(key.split("\n")[1]!),
    "the CSR holds no private key",
  );
  const { publicKey } = await keyPairFromPem(key);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", publicKey));
  assert.deepEqual(new Uint8Array(csr.publicKey.rawData), spki);
});

Deno.test("certInfo reads validity; keyMatchesCert tells the certificate's key from another", async () => {
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=t",
    notBefore: new Date(Date.UTC(2026, 0, 1)),
    notAfter: new Date(Date.UTC(2027, 0, 1)),
    keys,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    extensions: [new x509.BasicConstraintsExtension(false)],
  });
  const pem = cert.toString("pem");
  const info = certInfo(pem);
  assert.equal(info.notBefore, Date.UTC(2026, 0, 1));
  assert.equal(info.notAfter, Date.UTC(2027, 0, 1));
  assert.equal(info.subject, "CN=t");
  const der = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  const mine = `-----BEGIN PRIVATE KEY-----\n${
    btoa(String.fromCharCode(...der))
  }\n-----END PRIVATE KEY-----\n`;
  assert.ok(await keyMatchesCert(mine, pem));
  assert.ok(!(await keyMatchesCert(await generateKeyPem(), pem)));
  assert.throws(() => certInfo("nope"), TypeError);
});

Deno.test("template parameters fill in facts; an unreadable fact is a clear error", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/serial`, "ab12\0\n");
    const p = configSchema.parse({
      provision: {
        parameters: { S: "${serial}", D: "id-${deviceId}", T: "${thing}", K: "plain" },
        facts: { serialFile: `${dir}/serial` },
      },
    }).provision;
    assert.deepEqual(templateParameters(p, { deviceId: "d1", thing: "t1" }), {
      S: "ab12",
      D: "id-d1",
      T: "t1",
      K: "plain",
    });
    const q = { ...p, facts: { ...p.facts, serialFile: `${dir}/none` } };
    assert.throws(() => templateParameters(q, { deviceId: "d", thing: "t" }), /serial number/);
    const r = { ...p, parameters: { X: "${nope}" } };
    assert.throws(() => templateParameters(r, { deviceId: "d", thing: "t" }), /Unknown fact/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
