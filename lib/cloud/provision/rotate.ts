/**
 * Certificate rotation, over the device's own connection (the design of
 * Greengrass's certificate rotator: rotate, prove, commit or roll back):
 *
 * 1. `key`: a new key (0600, atomic) beside the identity in force.
 * 2. `certificate`: CreateCertificateFromCsr over MQTT with a CSR from it.
 * 3. `registered`: RegisterThing with the same template activates it for the
 *    same thing (skipped without a template: the cloud activates it itself).
 * 4. `switch`: the MQTT service reconnects with the new certificate, and a
 *    round trip on the device's own topic (`rotation.proveTopic`) proves it
 *    works within `rotation.proveTimeout`. Then the commit: the new pair
 *    becomes the identity in force, the old files are removed and the commit
 *    is published on `rotation.commitTopic` (old and new certificate ids,
 *    queued QoS 1) so the cloud can revoke the old certificate. Otherwise the
 *    service reconnects with the old certificate (rolled back) and the new
 *    files are removed.
 *
 * A power cut before the commit leaves the old identity in force; the flow
 * resumes at its recorded step (a `switch` is tried again).
 */

import type { MqttClient } from "../../mqtt/mod.ts";
import type { FlowState } from "../../db/provision_store.ts";
import { ProvisionError, registerThing } from "./fleet.ts";
import type { Identity, LoadedIdentity } from "./identity.ts";
import { templateParameters } from "./facts.ts";
import { beginFlow, type FlowDeps, requestCertificate, stepRecorder } from "./claim.ts";

/** What rotation needs from the "mqtt" service (lib/mqtt/service.ts). */
export interface IdentityUser {
  readonly client: MqttClient;
  /** Reconnect with this certificate and key. */
  useIdentity(id: { certPem: string; keyPem: string }): Promise<void>;
}

export interface RotateDeps extends FlowDeps {
  mqttService: IdentityUser;
  current: LoadedIdentity;
}

export type RotateOutcome =
  | { outcome: "success"; identity: Identity }
  | { outcome: "rolledBack"; error: ProvisionError };

export async function runRotation(d: RotateDeps): Promise<RotateOutcome> {
  let flow = d.store.flow();
  if (flow && (flow.purpose !== "rotate" || d.identities.read(flow.keyFile) === undefined)) {
    flow = undefined;
  }
  const save = stepRecorder(d, (f) => flow = f);
  if (!flow) await beginFlow(d, "rotate", save);
  const client = d.mqttService.client;
  const keyPem = d.identities.read(flow!.keyFile)!;
  const thing = d.current.thing;
  if (flow!.step === "key") {
    const wait = AbortSignal.any([d.signal, AbortSignal.timeout(d.provision.requestTimeout)]);
    await client.waitConnected(wait).catch(() => {
      throw new ProvisionError("Connect", {
        statusCode: 0,
        errorCode: "Offline",
        errorMessage: "Not connected: the rotation waits for the connection",
      });
    });
    await requestCertificate(d, client, keyPem, thing, flow!, save);
  }
  if (flow!.step === "certificate") {
    if (flow!.token) d.secret(flow!.token);
    if (d.provision.template) {
      const params = templateParameters(d.provision, { deviceId: d.deviceId, thing });
      try {
        await registerThing(client, d.provision.template, flow!.token!, params, {
          timeout: d.provision.requestTimeout,
          signal: d.signal,
        });
      } catch (e) {
        if (e instanceof ProvisionError && e.statusCode > 0) _abandon(d, flow!);
        throw e;
      }
    }
    const { token: _t, tokenAt: _ta, ...rest } = flow!;
    save({ ...rest, step: "registered", thingName: thing });
  }
  save({ ...flow!, step: "switch" });
  const next = { certPem: flow!.certificatePem!, keyPem };
  const proved = await _switchAndProve(d, next);
  if (proved !== true) {
    d.log.warn("The new certificate did not work; rolling back to the old one", {
      certificateId: flow!.certificateId,
      error: proved.message,
    });
    await d.mqttService.useIdentity(d.current);
    _abandon(d, flow!);
    return { outcome: "rolledBack", error: proved };
  }
  const identity = d.identities.commit({
    thing,
    certificateId: flow!.certificateId!,
    certPem: next.certPem,
    keyPem,
  }, d.clock.now());
  d.store.clearFlow();
  d.identities.sweep();
  await client.publish(d.provision.rotation.commitTopic, {
    oldCertificateId: d.current.certificateId,
    newCertificateId: identity.certificateId,
    thingName: thing,
    time: new Date(d.clock.now()).toISOString(),
  }, { qos: 1 });
  return { outcome: "success", identity };
}

/** Drop a rotation flow and its key file; the identity in force stays. */
function _abandon(d: RotateDeps, flow: FlowState): void {
  d.store.clearFlow();
  d.identities.sweep();
  void flow;
}

/** Reconnect with `next` and do a round trip on the device's own topic; true or the error. */
async function _switchAndProve(
  d: RotateDeps,
  next: { certPem: string; keyPem: string },
): Promise<true | ProvisionError> {
  const client = d.mqttService.client;
  const r = d.provision.rotation;
  const deadline = AbortSignal.any([d.signal, AbortSignal.timeout(r.proveTimeout)]);
  const connected = Promise.withResolvers<void>();
  const off = client.onConnected(() => connected.resolve());
  const nonce = crypto.randomUUID();
  const echoed = Promise.withResolvers<void>();
  const sub = await client.subscribe(r.proveTopic, (m) => {
    if (m.text().includes(nonce)) echoed.resolve();
  }, { qos: 1 });
  const timedOut = new Promise<never>((_, reject) => {
    const fail = () => reject(new Error("timeout"));
    if (deadline.aborted) fail();
    deadline.addEventListener("abort", fail, { once: true });
  });
  timedOut.catch(() => {});
  let stage = "connect";
  try {
    await d.mqttService.useIdentity(next);
    await Promise.race([connected.promise, timedOut]);
    stage = "round trip";
    await client.publish(r.proveTopic, { proof: nonce }, { qos: 1 });
    await Promise.race([echoed.promise, timedOut]);
    return true;
  } catch (e) {
    if (d.signal.aborted) throw d.signal.reason;
    const why = stage === "connect"
      ? `no connection with the new certificate within ${r.proveTimeout} ms (${
        client.status().lastError ?? "no error reported"
      })`
      : `no round trip on "${r.proveTopic}" within ${r.proveTimeout} ms (${(e as Error).message})`;
    return new ProvisionError("Prove", {
      statusCode: 0,
      errorCode: "ProveFailed",
      errorMessage: why,
    });
  } finally {
    off();
    await sub.unsubscribe();
  }
}
