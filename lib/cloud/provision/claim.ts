/**
 * One attempt of provisioning by claim, resumable at every step (the step is
 * in `_provision`, lib/db/provision_store.ts; the key is a 0600 file):
 *
 * 1. `key`: a new ECDSA P-256 key is written (atomically) to the identity dir.
 * 2. `certificate`: over the claim connection, CreateCertificateFromCsr with a
 *    CSR from that key; the certificate, its id and the ownership token are
 *    recorded. A token older than 55 min (AWS gives it 1 h) is not used: the
 *    flow asks for a new certificate instead.
 * 3. `registered`: RegisterThing with the token and the template parameters;
 *    the thing name comes from the reply.
 * 4. The certificate and key become the identity in force (identity.json last).
 *
 * A rejected RegisterThing drops the certificate and token (never activated)
 * so the next attempt starts again from a new CSR with the same key. Every
 * failure is a {@linkcode ProvisionError}; the service retries with backoff.
 */

import type { DatabaseSync } from "node:sqlite";
import type { Clock } from "../../clock.ts";
import type { MqttConfig, ProvisionConfig } from "../../config/mod.ts";
import type { Logger } from "../../log/mod.ts";
import { resolve } from "../../path.ts";
import { mqttBrokerUrl } from "../../config/_mqtt.ts";
import { MqttClient } from "../../mqtt/mod.ts";
import type { FlowState, ProvisionStore } from "../../db/provision_store.ts";
import { buildCsr, certInfo, generateKeyPem } from "./csr.ts";
import { createCertificateFromCsr, ProvisionError, registerThing } from "./fleet.ts";
import type { Identity, IdentityStore } from "./identity.ts";
import { templateParameters } from "./facts.ts";

/** The ownership token's life at AWS, in ms. */
export const TOKEN_LIFE = 3_600_000;
/** A token this old is not used any more (room for the request), in ms. */
export const TOKEN_USABLE = TOKEN_LIFE - 5 * 60_000;

export interface FlowDeps {
  store: ProvisionStore;
  identities: IdentityStore;
  provision: ProvisionConfig;
  mqtt: MqttConfig;
  db: DatabaseSync;
  deviceId: string;
  /** device.thing, else the device id. */
  thing: string;
  configDir: string;
  clock: Clock;
  log: Logger;
  /** Register a run-time secret with the log redactor. */
  secret(value: string): void;
  /** Told after each recorded step. */
  onStep(flow: FlowState): void;
  signal: AbortSignal;
}

/**
 * What records a flow's next step: the store first (a power cut resumes
 * there), then `set`, the log and `d.onStep`.
 */
export function stepRecorder(d: FlowDeps, set: (f: FlowState) => void): (f: FlowState) => void {
  return (f) => {
    d.store.saveFlow(f);
    set(f);
    d.log.info("Provisioning step recorded", { purpose: f.purpose, step: f.step });
    d.onStep(f);
  };
}

/** Start a new flow of `purpose`: its key is made and written (0600) before the step is recorded. */
export async function beginFlow(
  d: FlowDeps,
  purpose: FlowState["purpose"],
  save: (f: FlowState) => void,
): Promise<void> {
  const keyFile = d.identities.writePendingKey(await generateKeyPem());
  save({ purpose, step: "key", startedAt: d.clock.now(), keyFile });
}

/**
 * The flow's "key" step: a CSR for the flow's key, CreateCertificateFromCsr,
 * and the reply (certificate, ownership token, its time) recorded as step
 * "certificate". The token is a secret from here on (redacted everywhere).
 */
export async function requestCertificate(
  d: FlowDeps,
  client: MqttClient,
  keyPem: string,
  thing: string,
  flow: FlowState,
  save: (f: FlowState) => void,
): Promise<void> {
  const c = await createCertificateFromCsr(client, await buildCsr(keyPem, thing), {
    timeout: d.provision.requestTimeout,
    signal: d.signal,
  });
  d.secret(c.certificateOwnershipToken);
  save({
    ...flow,
    step: "certificate",
    certificateId: c.certificateId,
    certificatePem: c.certificatePem,
    token: c.certificateOwnershipToken,
    tokenAt: d.clock.now(),
  });
}

/** Run the claim flow from wherever it stopped; resolves with the committed identity. */
export async function runClaim(d: FlowDeps): Promise<Identity> {
  let flow = d.store.flow();
  if (flow && flow.purpose !== "claim") flow = undefined;
  if (flow && d.identities.read(flow.keyFile) === undefined) {
    d.log.warn("The provisioning key file is gone; starting the flow again", {
      file: flow.keyFile,
    });
    flow = undefined;
  }
  const save = stepRecorder(d, (f) => flow = f);
  if (!flow) await beginFlow(d, "claim", save);
  if (flow!.step === "certificate" && d.clock.now() - (flow!.tokenAt ?? 0) > TOKEN_USABLE) {
    d.log.warn("The certificate ownership token lapsed; asking for a new certificate", {
      certificateId: flow!.certificateId,
    });
    save(_back(flow!));
  }
  if (flow!.token) d.secret(flow!.token);
  if (flow!.step !== "registered") {
    await using client = await _claimClient(d);
    const keyPem = d.identities.read(flow!.keyFile)!;
    if (flow!.step === "key") await requestCertificate(d, client, keyPem, d.thing, flow!, save);
    const params = templateParameters(d.provision, { deviceId: d.deviceId, thing: d.thing });
    try {
      const r = await registerThing(client, d.provision.template!, flow!.token!, params, {
        timeout: d.provision.requestTimeout,
        signal: d.signal,
      });
      const { token: _t, tokenAt: _ta, ...rest } = flow!;
      save({ ...rest, step: "registered", thingName: r.thingName });
    } catch (e) {
      // A rejection: this certificate is never activated; the next attempt asks for a new one.
      if (e instanceof ProvisionError && e.statusCode > 0) save(_back(flow!));
      throw e;
    }
  }
  if (d.signal.aborted) throw d.signal.reason;
  const keyPem = d.identities.read(flow!.keyFile)!;
  const id = d.identities.commit({
    thing: flow!.thingName!,
    certificateId: flow!.certificateId!,
    certPem: flow!.certificatePem!,
    keyPem,
  }, d.clock.now());
  d.store.clearFlow();
  d.identities.sweep();
  return id;
}

/** The flow back at step `key` (same key; certificate and token dropped). */
function _back(f: FlowState): FlowState {
  return { purpose: f.purpose, step: "key", startedAt: f.startedAt, keyFile: f.keyFile };
}

/** A connected MQTT client with the claim certificate (ProvisionError when it cannot connect). */
async function _claimClient(d: FlowDeps): Promise<MqttClient & AsyncDisposable> {
  const claim = d.provision.claim;
  if (!claim || !d.provision.template) {
    throw new ProvisionError("Connect", {
      statusCode: 0,
      errorCode: "NoClaim",
      errorMessage:
        'No identity yet and no claim certificate: set provision.claim and provision.template, or run "tern provision --cert FILE --key FILE"',
    });
  }
  const url = mqttBrokerUrl(d.mqtt);
  if (!url) {
    throw new ProvisionError("Connect", {
      statusCode: 0,
      errorCode: "NoBroker",
      errorMessage: "Set mqtt.url or mqtt.endpoint (the broker to provision through)",
    });
  }
  const read = (p: string, what: string) => {
    const file = resolve(d.configDir, p);
    try {
      return Deno.readTextFileSync(file);
    } catch (e) {
      throw new ProvisionError("Connect", {
        statusCode: 0,
        errorCode: "ClaimUnreadable",
        errorMessage: `Cannot read the ${what} "${file}": ${(e as Error).message}`,
      });
    }
  };
  const cert = read(claim.cert, "claim certificate");
  const key = read(claim.key, "claim key");
  const info = certInfo(cert);
  const now = d.clock.now();
  if (info.notAfter <= now || info.notBefore > now) {
    throw new ProvisionError("Connect", {
      statusCode: 0,
      errorCode: "ClaimCertificateExpired",
      errorMessage: `The claim certificate is valid from ${
        new Date(info.notBefore).toISOString()
      } to ${new Date(info.notAfter).toISOString()}; put a current one in "${
        resolve(d.configDir, claim.cert)
      }"`,
    });
  }
  const ca = d.mqtt.ca ? read(d.mqtt.ca, "CA") : undefined;
  const u = new URL(url);
  const alpn = d.mqtt.alpn ?? (u.port === "443" ? ["x-amzn-mqtt-ca"] : undefined);
  const client = new MqttClient({
    url,
    clientId: d.provision.clientId ?? d.deviceId,
    db: d.db,
    vars: { thing: d.thing, deviceId: d.deviceId },
    keepalive: d.mqtt.keepalive,
    connectTimeout: d.mqtt.connectTimeout,
    tls: {
      cert,
      key,
      ...(ca ? { ca } : {}),
      ...(d.mqtt.servername ? { servername: d.mqtt.servername } : {}),
      ...(alpn ? { alpn } : {}),
    },
    reconnect: d.mqtt.reconnect,
    queue: { table: "_provision_mqtt_queue", qos0: "drop" },
    clock: d.clock,
    log: d.log.child("claim"),
  }).start();
  const wait = AbortSignal.any([d.signal, AbortSignal.timeout(d.mqtt.connectTimeout + 1_000)]);
  try {
    await client.waitConnected(wait);
  } catch {
    const why = client.status().lastError ?? "no connection";
    await client.close();
    if (d.signal.aborted) throw d.signal.reason;
    throw new ProvisionError("Connect", {
      statusCode: 0,
      errorCode: "ConnectFailed",
      errorMessage: `Cannot connect with the claim certificate: ${why}`,
    });
  }
  return client;
}
