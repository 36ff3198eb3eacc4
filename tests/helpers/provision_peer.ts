/**
 * AWS IoT fleet provisioning for the tests: an MQTT responder on the test
 * broker (mosquitto with `require_certificate`, so it connects with a client
 * certificate of the test CA) that follows AWS's documented topics, payloads
 * and error shapes, and signs CSRs with the test CA mosquitto trusts, so the
 * device's reconnect with its new certificate is real mutual TLS:
 *
 * - `$aws/certificates/create-from-csr/json` → `/accepted`
 *   `{ certificateId, certificatePem, certificateOwnershipToken }` or
 *   `/rejected` `{ statusCode, errorCode, errorMessage }` (a CSR that does
 *   not parse or whose signature does not verify: 400 InvalidCsr)
 * - `$aws/provisioning-templates/NAME/provision/json` → `/accepted`
 *   `{ deviceConfiguration, thingName }` or `/rejected` (unknown template
 *   404 ResourceNotFound, a missing parameter 400 InvalidParameters, a token
 *   unknown, used or older than `tokenTtl` 400 InvalidCertificateOwnershipToken)
 *
 * ```ts
 * await using peer = await startProvisionPeer({ broker: broker.url, tls: fixtures });
 * const claim = await peer.issue({ cn: "claim" });            // a claim certificate and key
 * peer.things.get("pump-1");                                  // after RegisterThing
 * ```
 *
 * `fault(kind, payload)` answers with a rejection of the test's choosing;
 * `hold` delays replies; `untrusted` makes the next certificates be signed
 * by another CA (the broker then refuses them); `validity(n)` sets the life
 * of the n-th certificate issued (0-based). Every request is in `received`,
 * every payload on `$aws/#` and `tern/#` in `wire`.
 */

import mqtt from "mqtt";
import { x509 } from "../../lib/cloud/provision/_x509.ts";
import { signRequest } from "../../lib/aws/mod.ts";
import { MOTO_CREDENTIALS, MOTO_REGION } from "./moto.ts";
import type { TlsFixtures } from "./tls.ts";

export interface PeerFault {
  statusCode: number;
  errorCode: string;
  errorMessage: string;
}

export interface ProvisionPeerOptions {
  broker: string;
  tls: TlsFixtures;
  /** Templates: name → required parameters and how the thing is named. @default { TernFleet: SerialNumber → "tern-" + SerialNumber } */
  templates?: Record<string, { required: string[]; thingName(p: Record<string, string>): string }>;
  /** Ownership token life in ms. @default 3600000 */
  tokenTtl?: number;
  /** A rejection to answer with, "drop" to answer nothing, undefined to serve the request. */
  fault?: (
    kind: "csr" | "register",
    payload: Record<string, unknown>,
  ) => PeerFault | "drop" | undefined;
  /** Hold each reply this long, ms. @default 0 */
  hold?: number;
  /** Sign the n-th certificate issued (0-based) with an unrelated CA. @default never */
  untrustedAt?: (n: number) => boolean;
  /**
   * moto's URL: each CSR is first given to moto's IoT CreateCertificateFromCsr
   * (REST, SigV4-signed), which must accept it; the certificate id is then moto's.
   */
  moto?: string;
  /** Life of the n-th certificate issued. @default one day from now - 1 min */
  validity?: (n: number) => { notBefore: Date; notAfter: Date };
}

export interface ProvisionPeer extends AsyncDisposable {
  options: ProvisionPeerOptions;
  received: { kind: "csr" | "register"; topic: string; payload: Record<string, unknown> }[];
  /** Every payload seen on the broker's `$aws/#` and `tern/#` (text). */
  wire: { topic: string; text: string }[];
  /** Registered things: name → certificate ids attached. */
  things: Map<string, string[]>;
  /** Issued certificate ids (in order). */
  issued: string[];
  /** Sign with an unrelated CA from now on (true) or the trusted one (false). */
  untrusted: boolean;
  /** A certificate and key of the trusted CA (a claim certificate), valid as given. */
  issue(
    o?: { cn?: string; notBefore?: Date; notAfter?: Date },
  ): Promise<{ certPem: string; keyPem: string }>;
}

const EC = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGN = { name: "ECDSA", hash: "SHA-256" } as const;

export async function startProvisionPeer(options: ProvisionPeerOptions): Promise<ProvisionPeer> {
  const templates = options.templates ?? {
    TernFleet: {
      required: ["SerialNumber"],
      thingName: (p: Record<string, string>) => `tern-${p.SerialNumber}`,
    },
  };
  const caKey = await _importKey(options.tls.caKey);
  const caCert = new x509.X509Certificate(options.tls.caCert);
  const rogue = await crypto.subtle.generateKey(EC, true, ["sign", "verify"]);
  const rogueCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=Rogue CA",
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys: rogue,
    signingAlgorithm: SIGN,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  const tokens = new Map<string, { certificateId: string; at: number; used: boolean }>();
  const peer: ProvisionPeer = {
    options,
    received: [],
    wire: [],
    things: new Map(),
    issued: [],
    untrusted: false,
    issue: async (o = {}) => {
      const keys = await crypto.subtle.generateKey(EC, true, ["sign", "verify"]);
      const cert = await sign(keys.publicKey, o.cn ?? "claim", {
        notBefore: o.notBefore ?? new Date(Date.now() - 60_000),
        notAfter: o.notAfter ?? new Date(Date.now() + 86_400_000),
      }, false);
      const der = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
      return { certPem: cert, keyPem: _pem("PRIVATE KEY", der) };
    },
    [Symbol.asyncDispose]: async () => {
      await client.endAsync(true).catch(() => {});
    },
  };

  let serial = 1000;
  async function sign(
    publicKey: CryptoKey,
    cn: string,
    v: { notBefore: Date; notAfter: Date },
    untrusted: boolean,
  ): Promise<string> {
    const c = await x509.X509CertificateGenerator.create({
      serialNumber: (serial++).toString(16).padStart(4, "0") + Date.now().toString(16),
      subject: `CN=${cn}`,
      issuer: untrusted ? rogueCert.subject : caCert.subject,
      notBefore: v.notBefore,
      notAfter: v.notAfter,
      signingKey: untrusted ? rogue.privateKey : caKey,
      publicKey,
      signingAlgorithm: SIGN,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      ],
    });
    return c.toString("pem");
  }

  const client = await mqtt.connectAsync(options.broker, {
    clientId: `provision-peer-${crypto.randomUUID().slice(0, 8)}`,
    reconnectPeriod: 50,
    protocolVersion: 4,
    cert: options.tls.clientCert,
    key: options.tls.clientKey,
    ca: options.tls.caCert,
    rejectUnauthorized: true,
  });
  const reply = async (topic: string, body: unknown) => {
    if (options.hold) await new Promise((r) => setTimeout(r, options.hold));
    await client.publishAsync(topic, JSON.stringify(body), { qos: 1 });
  };
  const reject = (topic: string, f: PeerFault) => reply(`${topic}/rejected`, f);

  client.on("message", (topic, buf) => {
    const text = new TextDecoder().decode(buf);
    peer.wire.push({ topic, text });
    const kind = topic === "$aws/certificates/create-from-csr/json"
      ? "csr"
      : /^\$aws\/provisioning-templates\/[^/]+\/provision\/json$/.test(topic)
      ? "register"
      : undefined;
    if (!kind) return;
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(text);
    } catch {
      void reject(topic, {
        statusCode: 400,
        errorCode: "InvalidPayload",
        errorMessage: "Not JSON",
      });
      return;
    }
    peer.received.push({ kind, topic, payload });
    const f = options.fault?.(kind, payload);
    if (f === "drop") return;
    if (f) return void reject(topic, f);
    void (kind === "csr" ? onCsr(topic, payload) : onRegister(topic, payload)).catch((e) =>
      reject(topic, { statusCode: 500, errorCode: "InternalFailure", errorMessage: String(e) })
    );
  });

  async function onCsr(topic: string, payload: Record<string, unknown>): Promise<void> {
    let csr: InstanceType<typeof x509.Pkcs10CertificateRequest>;
    try {
      csr = new x509.Pkcs10CertificateRequest(String(payload.certificateSigningRequest));
      if (!(await csr.verify())) throw new Error("bad signature");
    } catch (e) {
      return reject(topic, {
        statusCode: 400,
        errorCode: "InvalidCsr",
        errorMessage: `Invalid certificate signing request: ${(e as Error).message}`,
      });
    }
    let motoId: string | undefined;
    if (options.moto) {
      const body = JSON.stringify({ certificateSigningRequest: payload.certificateSigningRequest });
      const signed = await signRequest(
        {
          method: "POST",
          url: `${options.moto}/certificates?setAsActive=false`,
          headers: { "content-type": "application/json" },
          body,
        },
        { credentials: MOTO_CREDENTIALS, region: MOTO_REGION, service: "iot" },
      );
      const r = await fetch(signed.url, { method: "POST", headers: signed.headers, body });
      const json = await r.json().catch(() => ({}));
      if (!r.ok || typeof json.certificateId !== "string") {
        return reject(topic, {
          statusCode: 400,
          errorCode: "InvalidCsr",
          errorMessage: `CreateCertificateFromCsr refused it: ${JSON.stringify(json)}`,
        });
      }
      motoId = json.certificateId;
    }
    const n = peer.issued.length;
    const v = options.validity?.(n) ??
      { notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000) };
    const cn = csr.subjectName.getField("CN")[0] ?? "device";
    const rogueOne = peer.untrusted || (options.untrustedAt?.(n) ?? false);
    const pem = await sign(await csr.publicKey.export(EC, ["verify"]), cn, v, rogueOne);
    const der = new x509.X509Certificate(pem).rawData;
    const id = motoId ??
      [...new Uint8Array(await crypto.subtle.digest("SHA-256", der))].map((b) =>
        b.toString(16).padStart(2, "0")
      ).join("");
    peer.issued.push(id);
    const token = crypto.randomUUID() + crypto.randomUUID();
    tokens.set(token, { certificateId: id, at: Date.now(), used: false });
    await reply(`${topic}/accepted`, {
      certificateId: id,
      certificatePem: pem,
      certificateOwnershipToken: token,
    });
  }

  async function onRegister(topic: string, payload: Record<string, unknown>): Promise<void> {
    const name = topic.split("/")[2]!;
    const t = templates[name];
    if (!t) {
      return reject(topic, {
        statusCode: 404,
        errorCode: "ResourceNotFound",
        errorMessage: `Template ${name} not found`,
      });
    }
    const tok = tokens.get(String(payload.certificateOwnershipToken));
    if (!tok || tok.used || Date.now() - tok.at > (options.tokenTtl ?? 3_600_000)) {
      return reject(topic, {
        statusCode: 400,
        errorCode: "InvalidCertificateOwnershipToken",
        errorMessage: "The certificate ownership token is invalid or expired",
      });
    }
    const params = (payload.parameters ?? {}) as Record<string, string>;
    const missing = t.required.filter((k) => typeof params[k] !== "string" || params[k] === "");
    if (missing.length) {
      return reject(topic, {
        statusCode: 400,
        errorCode: "InvalidParameters",
        errorMessage: `Missing template parameters: ${missing.join(", ")}`,
      });
    }
    tok.used = true;
    const thing = t.thingName(params);
    peer.things.set(thing, [...(peer.things.get(thing) ?? []), tok.certificateId]);
    await reply(`${topic}/accepted`, { deviceConfiguration: {}, thingName: thing });
  }

  await client.subscribeAsync({ "$aws/#": { qos: 1 }, "tern/#": { qos: 1 } });
  return peer;
}

async function _importKey(pem: string): Promise<CryptoKey> {
  const b64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  const der = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return await crypto.subtle.importKey("pkcs8", der, EC, false, ["sign"]);
}

function _pem(label: string, der: Uint8Array): string {
  const b64 = btoa(String.fromCharCode(...der));
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)!.join("\n")}\n-----END ${label}-----\n`;
}
