/**
 * Certificate rotation against mosquitto with `require_certificate`: the
 * first certificate is issued already past 80 % of its life, so the agent
 * rotates right after provisioning — new key and CSR, CreateCertificateFromCsr
 * and RegisterThing over its own connection, reconnect with the new
 * certificate, a round trip on its own topic, then the commit (old files
 * removed, the commit published for the cloud). When the broker refuses the
 * new certificate (signed by another CA), the agent rolls back within
 * `proveTimeout` and stays connected with the old one. A message on the
 * rotation request topic, or an IoT Job (`tern.rotateCertificate`, through
 * the update service and the Jobs responder), rotates on demand.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { AuditLog, Database } from "../lib/db/mod.ts";
import { keyMatchesCert } from "../lib/cloud/provision/mod.ts";
import type { MqttService } from "../lib/mqtt/mod.ts";
import { skipWithout } from "./helpers/peers.ts";
import { until } from "./helpers/wait.ts";
import { identityFiles, identityOf, provisionWorld, THING } from "./provision_helpers.ts";
import { startJobsPeer } from "./helpers/jobs_peer.ts";
import { startAedes } from "./helpers/aedes.ts";
import { Agent } from "../lib/agent.ts";
import { configSchema } from "../lib/config/mod.ts";
import { LogHub } from "../lib/log/mod.ts";
import { LIBRARY_SERVICES } from "../lib/services.ts";

const ignore = skipWithout("mosquitto", import.meta.url);
const HOUR = 3_600_000;
/** The first certificate: 23 of its 24 hours gone (past 80 %); later ones fresh. */
const validity = (n: number) =>
  n === 0
    ? { notBefore: new Date(Date.now() - 23 * HOUR), notAfter: new Date(Date.now() + HOUR) }
    : { notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 24 * HOUR) };

function auditEvents(stateDir: string, action: string) {
  using db = Database.open({ path: join(stateDir, "tern.db"), purgeInterval: 0 });
  return new AuditLog(db, { create: false }).list({ action });
}

Deno.test({
  name: "a certificate past 80 % of its life is rotated, proved, committed and announced",
  ignore,
  fn: async () => {
    await using w = await provisionWorld({ validity });
    await using a = await w.agent();
    await until(() => (a.provision().lastResult as { purpose?: string })?.purpose === "rotate", {
      ms: 15_000,
      what: () => `a rotation (${JSON.stringify(a.provision())})`,
    });
    await w.connected(a);
    const st = a.provision();
    assert.equal((st.lastResult as { outcome: string }).outcome, "success", JSON.stringify(st));
    const [first, second] = w.peer.issued;
    const id = identityOf(w.stateDir);
    assert.equal(id.certificateId, second);
    assert.equal(id.previousCertificateId, first);
    assert.equal(st.certificateId, second);
    assert.ok(await keyMatchesCert(id.keyPem, id.certPem));
    assert.deepEqual(w.peer.things.get(THING), [first, second]);
    // Old files removed: identity.json and the new pair only, all 0600.
    const files = identityFiles(w.stateDir);
    assert.equal(files.length, 3, JSON.stringify(files));
    for (const f of files) assert.equal(f.mode, 0o600);
    // The cloud is told, so it can revoke the old certificate.
    await until(() => w.peer.wire.some((m) => m.topic === `tern/${THING}/identity/rotated`));
    const commit = JSON.parse(
      w.peer.wire.find((m) => m.topic === `tern/${THING}/identity/rotated`)!.text,
    );
    assert.equal(commit.oldCertificateId, first);
    assert.equal(commit.newCertificateId, second);
    // The proof round trip went over the broker with the new certificate.
    assert.ok(w.peer.wire.some((m) => m.topic === `tern/${THING}/identity/proof`));
    // Still working with the new one.
    const mqtt = a.agent.get<MqttService>("mqtt").client;
    await mqtt.publish("tern/${thing}/after", "x", { qos: 1, wait: "ack" });
    // Next rotation at 80 % of the new certificate's day.
    const next = Date.parse(String(st.nextRotation));
    assert.ok(
      Math.abs(next - (Date.now() + 0.8 * 24 * HOUR)) < 5 * 60_000,
      String(st.nextRotation),
    );
    const ev = auditEvents(w.stateDir, "provision.rotate");
    assert.equal(ev.length, 1);
    assert.equal(ev[0]!.outcome, "success");
    assert.equal((ev[0]!.details as Record<string, unknown>).previousCertificateId, first);
    const keyBody = id.keyPem.split("\n")[1]!;
    assert.ok(!JSON.stringify(a.logs).includes(keyBody), "the new key is not logged");
  },
});

Deno.test({
  name:
    "a new certificate the broker refuses is rolled back within proveTimeout, still connected with the old",
  ignore,
  fn: async () => {
    await using w = await provisionWorld({ validity, untrustedAt: (n) => n === 1 });
    await using a = await w.agent({
      provision: {
        rotation: { proveTimeout: 1_500 },
        retry: { min: 60_000, max: 60_000 },
      },
    });
    await w.connected(a);
    const first = w.peer.issued[0];
    const t0 = Date.now();
    await until(() => (a.provision().lastResult as { purpose?: string })?.purpose === "rotate", {
      ms: 15_000,
      what: () => `a rotation attempt (${JSON.stringify(a.provision())})`,
    });
    const st = a.provision();
    const r = st.lastResult as {
      outcome: string;
      error: { errorCode: string; errorMessage: string };
    };
    assert.equal(r.outcome, "rolledBack", JSON.stringify(st));
    assert.equal(r.error.errorCode, "ProveFailed");
    assert.ok(Date.now() - t0 < 10_000);
    await w.connected(a, 5_000);
    assert.equal(identityOf(w.stateDir).certificateId, first);
    assert.equal(st.certificateId, first);
    assert.equal(identityFiles(w.stateDir).length, 3, "the new key was removed");
    const mqtt = a.agent.get<MqttService>("mqtt").client;
    await mqtt.publish("tern/${thing}/after", "x", { qos: 1, wait: "ack" });
    assert.ok(
      !w.peer.wire.some((m) => m.topic === `tern/${THING}/identity/rotated`),
      "no commit announced",
    );
    const ev = auditEvents(w.stateDir, "provision.rotate");
    assert.equal(ev.length, 1);
    assert.equal(ev[0]!.outcome, "failure");
    assert.equal((ev[0]!.details as Record<string, unknown>).result, "rolledBack");
  },
});

Deno.test({
  name: "a message on the rotation request topic rotates a fresh certificate now",
  ignore,
  fn: async () => {
    await using w = await provisionWorld();
    await using a = await w.agent();
    await w.connected(a);
    // Wait until the service listens for requests (it subscribes once mqtt runs).
    await until(() => a.mqtt().received !== undefined);
    const mqtt = a.agent.get<MqttService>("mqtt").client;
    await until(async () => {
      await mqtt.publish(`tern/${THING}/identity/rotate`, {}, { qos: 1, wait: "ack" });
      await new Promise((r) => setTimeout(r, 200));
      return w.peer.issued.length === 2;
    }, { ms: 10_000, what: "a second certificate" });
    await until(() => identityOf(w.stateDir).certificateId === w.peer.issued[1], { ms: 10_000 });
    await w.connected(a);
  },
});

Deno.test({
  name: "an IoT Job tern.rotateCertificate rotates now and ends SUCCEEDED with the new certificate",
  ignore,
  fn: async () => {
    await using w = await provisionWorld();
    const tls = w.tls.paths;
    const read = (p: string) => Deno.readTextFileSync(p);
    await using jobs = await startJobsPeer({
      broker: w.broker.url,
      tls: { cert: read(tls.clientCert), key: read(tls.clientKey), ca: read(tls.caCert) },
    });
    const bin = join(w.dir, "tern-bin");
    await Deno.writeTextFile(bin, "#!/bin/sh\n", { mode: 0o755 });
    await using a = await w.agent({
      update: { enabled: true, binary: bin, version: "1.0.0", backoff: { min: 50, max: 400 } },
    });
    await w.connected(a);
    await jobs.createJob("rotate-1", { operation: "tern.rotateCertificate" }, [THING]);
    const done = await jobs.waitStatus(THING, "rotate-1", "SUCCEEDED", 20_000);
    assert.equal(w.peer.issued.length, 2, "a second certificate was issued");
    const id = identityOf(w.stateDir);
    assert.equal(id.certificateId, w.peer.issued[1]);
    assert.equal(done.statusDetails?.certificateId, w.peer.issued[1]);
    await w.connected(a);
    assert.equal(auditEvents(w.stateDir, "update.rotate").length, 1);
  },
});

Deno.test({
  name: "a tern.rotateCertificate job on a device without provisioning fails with a clear reason",
  ignore,
  fn: async () => {
    await using broker = await startAedes();
    await using jobs = await startJobsPeer({ broker: broker.url });
    const dir = await Deno.makeTempDir({ prefix: "tern_rotate_job_" });
    const bin = join(dir, "tern-bin");
    await Deno.writeTextFile(bin, "#!/bin/sh\n", { mode: 0o755 });
    const config = configSchema.parse({
      agent: { mode: "cloud" },
      device: { id: "plain-1" },
      mqtt: { enabled: true, url: broker.url },
      update: { enabled: true, binary: bin, version: "1.0.0", backoff: { min: 50, max: 400 } },
    });
    await using agent = await Agent.start({
      loaded: { config, configDir: dir, stateDir: join(dir, "state"), files: [], secrets: [] },
      factories: LIBRARY_SERVICES,
      hub: new LogHub({ sinks: [] }),
    });
    await jobs.createJob("rotate-2", { operation: "tern.rotateCertificate" }, ["plain-1"]);
    const failed = await jobs.waitStatus("plain-1", "rotate-2", "FAILED", 20_000);
    assert.equal(failed.statusDetails?.reason, "not-supported");
    assert.match(String(failed.statusDetails?.message), /provision\.enabled is false/);
    assert.ok(agent);
  },
});
