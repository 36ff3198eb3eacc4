/**
 * Provisioning by claim against mosquitto with `require_certificate` and the
 * provisioning peer: a fresh device goes from its claim certificate to
 * connected with its own (real mTLS with the CA-signed certificate from its
 * own CSR), keeps its key 0600 and out of every log line and off the wire,
 * restarts with that identity without asking again, and reports it in the
 * status and the audit trail.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { AuditLog, Database } from "../lib/db/mod.ts";
import { certInfo, keyMatchesCert } from "../lib/cloud/provision/mod.ts";
import type { MqttService } from "../lib/mqtt/mod.ts";
import { skipWithout } from "./helpers/peers.ts";
import { until } from "./helpers/wait.ts";
import { MOTO_CREDENTIALS, MOTO_REGION, startMoto } from "./helpers/moto.ts";
import { skipShadowTests } from "./shadow_helpers.ts";
import { signRequest } from "../lib/aws/mod.ts";
import { identityFiles, identityOf, logged, provisionWorld, THING } from "./provision_helpers.ts";

const ignore = skipWithout("mosquitto", import.meta.url);

Deno.test({
  name:
    "a fresh device goes from claim to connected with its own certificate, key 0600 and never logged",
  ignore,
  fn: async () => {
    await using w = await provisionWorld();
    {
      await using a = await w.agent();
      await w.connected(a);
      const st = a.provision();
      assert.equal(st.state, "provisioned");
      assert.equal(st.thing, THING);
      assert.match(String(st.notAfter), /^\d{4}-/);
      assert.match(String(st.nextRotation), /^\d{4}-/);
      assert.deepEqual((st.lastResult as { outcome: string }).outcome, "success");
      assert.equal(a.mqtt().clientId, THING, "the thing name from the reply is the client id");
      assert.equal(
        a.agent.get<MqttService>("mqtt").thing,
        THING,
        "services on MQTT (shadows, jobs) name the thing from the reply, not device.id",
      );

      const id = identityOf(w.stateDir);
      assert.equal(id.thing, THING);
      assert.deepEqual(w.peer.things.get(THING), [id.certificateId]);
      assert.ok(await keyMatchesCert(id.keyPem, id.certPem), "the stored key is the certificate's");
      // Files: identity.json, one cert and one key, all 0600 in a 0700 dir; no pending key left.
      const files = identityFiles(w.stateDir);
      assert.equal(files.length, 3, JSON.stringify(files));
      for (const f of files) assert.equal(f.mode, 0o600, `${f.name} is 0600`);
      assert.equal(Deno.statSync(join(w.stateDir, "identity")).mode! & 0o777, 0o700);

      // Requests on the wire: a CSR, then RegisterThing with the facts; the key never.
      assert.deepEqual(w.peer.received.map((r) => r.kind), ["csr", "register"]);
      assert.deepEqual(w.peer.received[1]!.payload.parameters as Record<string, string>, {
        SerialNumber: "SN0042",
        DeviceId: "dev-42",
      });
      const keyBody = id.keyPem.split("\n")[1]!;
      for (const m of w.peer.wire) {
        assert.ok(!m.text.includes("PRIVATE KEY") && !m.text.includes(keyBody), m.topic);
      }
      // Real mTLS with the new certificate: a round trip on the device's own topic.
      const got = Promise.withResolvers<string>();
      const mqtt = a.agent.get<MqttService>("mqtt").client;
      await mqtt.subscribe("tern/${thing}/echo", (m) => got.resolve(m.text()));
      await mqtt.publish("tern/${thing}/echo", "hello", { qos: 1, wait: "ack" });
      assert.equal(await got.promise, "hello");
      // The peer is another subscriber: its copy may land just after the device's own.
      await until(() => w.peer.wire.some((m) => m.topic === `tern/${THING}/echo`), {
        what: "the echo seen by the peer",
      });
      // mosquitto names the certificate's CN as user: the device's own (CSR CN), not the claim's.
      await logged(w, new RegExp(`as ${THING} \\(.*u'dev-42'\\)`));
      await logged(w, /as dev-42 \(.*u'claim-batch-7'\)/);

      // Never logged: no key, no token.
      const token = String(w.peer.received[1]!.payload.certificateOwnershipToken);
      const text = JSON.stringify(a.logs);
      assert.ok(!text.includes(keyBody), "the key is not in the log");
      assert.ok(!text.includes(token), "the ownership token is not in the log");
      assert.ok(a.logs.some((r) => r.msg === "Provisioned by claim"));
    }
    // Audit trail.
    {
      using db = Database.open({ path: join(w.stateDir, "tern.db"), purgeInterval: 0 });
      const events = new AuditLog(db, { create: false }).list({ action: "provision." });
      assert.equal(events.length, 1);
      assert.equal(events[0]!.action, "provision.claim");
      assert.equal(events[0]!.outcome, "success");
      assert.equal(events[0]!.target, `thing:${THING}`);
    }
    // A restart uses the identity without asking the cloud again.
    {
      await using a = await w.agent();
      await w.connected(a);
      assert.equal(w.peer.received.length, 2);
      assert.equal(a.provision().thing, THING);
    }
  },
});

Deno.test({
  name: "the device's CSR is one moto's IoT CreateCertificateFromCsr accepts (its subject kept)",
  ignore: ignore || skipShadowTests(import.meta.url),
  fn: async () => {
    await using moto = await startMoto();
    await using w = await provisionWorld({ moto: moto.url });
    await using a = await w.agent();
    await w.connected(a);
    const id = identityOf(w.stateDir);
    const path = `/certificates/${id.certificateId}`;
    const signed = await signRequest(
      { method: "GET", url: `${moto.url}${path}`, headers: {}, body: "" },
      { credentials: MOTO_CREDENTIALS, region: MOTO_REGION, service: "iot" },
    );
    const r = await fetch(signed.url, { headers: signed.headers });
    assert.equal(r.status, 200);
    const desc = (await r.json()).certificateDescription;
    assert.equal(desc.certificateId, id.certificateId);
    // moto parses the CSR (pyca/cryptography) and keeps its subject (it signs a key of its own).
    assert.equal(certInfo(desc.certificatePem).subject, "CN=dev-42");
  },
});
