/**
 * An identity from files placed by the factory (`tern provision --cert FILE
 * --key FILE`) or uploaded by an installer: the certificate and key are
 * checked (PEM, current, the key belongs to the certificate) and committed
 * like a provisioned identity; the certificate id is AWS's (the SHA-256 of
 * the certificate's DER, hex). Bad input changes nothing.
 */

import { join } from "../../path.ts";
import { certInfo, keyMatchesCert } from "./csr.ts";
import { type Identity, IdentityStore } from "./identity.ts";

/** Validate and install; returns the committed identity. */
export async function installIdentity(
  o: { dir: string; certPem: string; keyPem: string; thing: string; now: number },
): Promise<Identity> {
  const info = certInfo(o.certPem);
  if (info.notAfter <= o.now) {
    throw new TypeError(
      `The certificate expired on ${new Date(info.notAfter).toISOString()}`,
    );
  }
  if (!/-----BEGIN (EC |RSA )?PRIVATE KEY-----/.test(o.keyPem)) {
    throw new TypeError("The key file is not a PEM private key");
  }
  if (o.keyPem.includes("BEGIN PRIVATE KEY")) {
    let match = false;
    try {
      match = await keyMatchesCert(o.keyPem, o.certPem);
    } catch {
      match = true; // not a P-256 key: the TLS handshake is the check
    }
    if (!match) throw new TypeError("The key does not belong to the certificate");
  }
  const der = _der(o.certPem);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  const certificateId = [...hash].map((b) => b.toString(16).padStart(2, "0")).join("");
  const store = new IdentityStore(o.dir);
  const id = store.commit({
    thing: o.thing,
    certificateId,
    certPem: o.certPem,
    keyPem: o.keyPem,
  }, o.now);
  store.sweep();
  return id;
}

/** The identity directory of a state dir and `provision.dir`. */
export function identityDir(stateDir: string, dir: string): string {
  return join(stateDir, dir);
}

function _der(pem: string): Uint8Array<ArrayBuffer> {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem)!;
  const bin = atob(m[1]!.replace(/\s+/g, ""));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
