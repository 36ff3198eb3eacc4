/**
 * Device keys and certificate signing requests, made on the device: an ECDSA
 * P-256 key pair from WebCrypto (the private key never leaves the device; it
 * is kept as PKCS#8 PEM, the form node:tls, rustls and mosquitto read), a
 * PKCS#10 CSR signed with it by `npm:@peculiar/x509` (no hand-written ASN.1),
 * and what the agent needs from a certificate: its validity and subject.
 */

import { x509 } from "./_x509.ts";

const EC = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGN = { name: "ECDSA", hash: "SHA-256" } as const;

/** A new device key as PKCS#8 PEM. */
export async function generateKeyPem(): Promise<string> {
  const keys = await crypto.subtle.generateKey(EC, true, ["sign", "verify"]);
  const der = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return _pem("PRIVATE KEY", new Uint8Array(der));
}

/** The key pair of a PKCS#8 PEM P-256 key (the public half derived through JWK). */
export async function keyPairFromPem(pem: string): Promise<CryptoKeyPair> {
  const der = _unpem(pem, "PRIVATE KEY");
  const privateKey = await crypto.subtle.importKey("pkcs8", der, EC, true, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  const { d: _d, key_ops: _ops, ...pub } = jwk;
  const publicKey = await crypto.subtle.importKey("jwk", { ...pub, ext: true }, EC, true, [
    "verify",
  ]);
  return { privateKey, publicKey };
}

/** A PEM CSR for `keyPem` with subject CN=`commonName`. */
export async function buildCsr(keyPem: string, commonName: string): Promise<string> {
  const keys = await keyPairFromPem(keyPem);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [commonName] }],
    keys,
    signingAlgorithm: SIGN,
  });
  return csr.toString("pem");
}

/** What the agent reads from a certificate. */
export interface CertInfo {
  /** ms since epoch. */
  notBefore: number;
  /** ms since epoch. */
  notAfter: number;
  subject: string;
  serialNumber: string;
}

/** Validity and subject of a PEM certificate (TypeError when it is not one). */
export function certInfo(pem: string): CertInfo {
  let c: InstanceType<typeof x509.X509Certificate>;
  try {
    c = new x509.X509Certificate(pem);
  } catch (e) {
    throw new TypeError(`Not a PEM certificate: ${(e as Error).message}`);
  }
  return {
    notBefore: c.notBefore.getTime(),
    notAfter: c.notAfter.getTime(),
    subject: c.subject,
    serialNumber: c.serialNumber,
  };
}

/** True when `keyPem` is the private key of `certPem` (compares the public keys). */
export async function keyMatchesCert(keyPem: string, certPem: string): Promise<boolean> {
  const keys = await keyPairFromPem(keyPem);
  const cert = new x509.X509Certificate(certPem);
  const a = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  const b = new Uint8Array(cert.publicKey.rawData);
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function _pem(label: string, der: Uint8Array): string {
  const b64 = btoa(String.fromCharCode(...der));
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)!.join("\n")}\n-----END ${label}-----\n`;
}

function _unpem(pem: string, label: string): Uint8Array<ArrayBuffer> {
  const m = new RegExp(`-----BEGIN ${label}-----([\\s\\S]+?)-----END ${label}-----`).exec(pem);
  if (!m) throw new TypeError(`Not a PEM "${label}" (an ECDSA P-256 key in PKCS#8 is expected)`);
  const bin = atob(m[1]!.replace(/\s+/g, ""));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
