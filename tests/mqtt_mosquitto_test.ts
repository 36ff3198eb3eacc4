/**
 * Conformance against Debian's mosquitto with TLS and `require_certificate
 * true` (like AWS IoT Core): device certificate accepted, MQTT 5
 * request/response, and a wrong or missing client certificate failing with a
 * clear error and a slow retry. Skipped with a message when mosquitto is absent.
 */

import { equal, match, ok } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import mqtt from "mqtt";
import { MqttClient, type MqttClientOptions } from "../lib/mqtt/mod.ts";
import { startMosquitto } from "./helpers/mosquitto.ts";
import { skipWithout } from "./helpers/peers.ts";
import { makeTlsFixtures } from "./helpers/tls.ts";
import { until } from "./helpers/wait.ts";
import { testClient } from "./mqtt_helpers.ts";

/** TLS with client certificates against a real broker: give conditions longer. */
const SLOW = { ms: 8000 };

const ignore = skipWithout("mosquitto", import.meta.url);

/** A test client whose retries after an auth failure wait 60…120 s (the tests check they are slow). */
const makeClient = (url: string, extra: Partial<MqttClientOptions>) =>
  testClient(url, {
    reconnect: { min: 20, max: 200, authMin: 60_000, authMax: 120_000 },
    ...extra,
  });

Deno.test({
  name:
    "mosquitto TLS: device certificate accepted; publish acked, subscription and MQTT 5 request/response work",
  ignore,
  async fn() {
    await using tls = await makeTlsFixtures();
    await using broker = await startMosquitto({ tls: tls.paths });
    const creds = { cert: tls.clientCert, key: tls.clientKey, ca: tls.caCert };
    await using h = makeClient(broker.url, { tls: creds, protocolVersion: 5 });
    const client = h.client.start();
    await client.waitConnected(AbortSignal.timeout(5000));
    const cloud = await mqtt.connectAsync(broker.url, {
      ...creds,
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    try {
      await cloud.subscribeAsync(["dt/#", "svc/time"], { qos: 1 });
      const got: string[] = [];
      cloud.on("message", (topic, payload, packet) => {
        if (topic === "svc/time") {
          const p = packet.properties!;
          cloud.publish(p.responseTopic!, "12:00", {
            qos: 1,
            properties: { correlationData: p.correlationData! },
          });
        } else got.push(`${topic}=${payload}`);
      });
      const seen: string[] = [];
      await client.subscribe("cmd/${thing}", (m) => void seen.push(m.text()));
      equal(
        (await client.publish("dt/${thing}/t", "21.5", { qos: 1, wait: "ack" })).status,
        "acked",
      );
      await until(() => got.length === 1, SLOW);
      equal(got[0], "dt/pump-1/t=21.5");
      await cloud.publishAsync("cmd/pump-1", "reboot", { qos: 1 });
      await until(() => seen.length === 1, SLOW);
      equal(seen[0], "reboot");
      const answer = await client.request("svc/time", "now?", { timeout: 3000 });
      equal(answer.text(), "12:00");
      equal(client.status().connected, true);
    } finally {
      await cloud.endAsync(true);
    }
  },
});

Deno.test({
  name:
    "mosquitto TLS: a certificate from another CA or no certificate fails with a clear error and a slow retry",
  ignore,
  async fn() {
    await using tls = await makeTlsFixtures();
    await using other = await makeTlsFixtures(undefined, { clientCN: "intruder" });
    await using broker = await startMosquitto({ tls: tls.paths });
    const cases = {
      wrong: { cert: other.clientCert, key: other.clientKey, ca: tls.caCert },
      missing: { ca: tls.caCert },
    };
    for (const [name, creds] of Object.entries(cases)) {
      await using h = makeClient(broker.url, { tls: creds });
      const client = h.client.start();
      await until(
        () => client.status().lastError !== undefined && client.status().attempts >= 1,
        SLOW,
      );
      const s = client.status();
      equal(s.connected, false, name);
      equal(s.authFailure, true, `${name}: ${s.lastError}`);
      match(s.lastError!, /TLS handshake|closed the connection before CONNACK|certificate/i);
      match(s.lastError!, /mqtt\.cert/);
      // Slow retry: the next attempt is at least authMin (60 s) away.
      ok(s.nextAttemptAt! - Date.now() > 50_000, `${name}: next attempt too soon`);
      console.log(`${name} certificate: ${s.lastError}`);
    }
  },
});

Deno.test({
  name: "mosquitto TLS: a broker certificate the CA does not vouch for is reported as untrusted",
  ignore,
  async fn() {
    await using tls = await makeTlsFixtures();
    await using other = await makeTlsFixtures();
    await using broker = await startMosquitto({ tls: tls.paths });
    await using h = makeClient(broker.url, {
      tls: { cert: tls.clientCert, key: tls.clientKey, ca: other.caCert },
    });
    const client = h.client.start();
    await until(() => client.status().lastError !== undefined, SLOW);
    const s = client.status();
    equal(s.authFailure, true);
    match(s.lastError!, /not trusted: check mqtt\.ca/);
  },
});

Deno.test({
  name:
    "mosquitto MQTT 5: a publish the ACL forbids is refused by reason code and dropped; the queue flows on",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tern-acl-" });
    try {
      const acl = `${dir}/acl`;
      await Deno.writeTextFile(acl, "pattern readwrite ok/#\n");
      await using broker = await startMosquitto({ extra: [`acl_file ${acl}`] });
      await using h = makeClient(broker.url, { protocolVersion: 5 });
      const client = h.client.start();
      const denied = client.publish("secret/x", "no", { qos: 1, wait: "ack" });
      const fine = client.publish("ok/x", "yes", { qos: 1, wait: "ack" });
      const e = await denied.then(() => undefined, (e) => e);
      equal(e?.code, "REJECTED", String(e));
      match(e.message, /Broker refused message \d+ to "secret\/x"/);
      equal((await fine).status, "acked");
      equal(client.status().poison, 1);
      equal(client.status().queueDepth, 0);
      equal(client.status().reconnects, 0, "no disconnect needed on MQTT 5");
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "mosquitto persistent session (cleanSession false): QoS 1 sent while the device was away is delivered",
  ignore,
  async fn() {
    await using broker = await startMosquitto();
    const db = new DatabaseSync(":memory:");
    const options = {
      url: broker.url,
      clientId: "persistent-dev",
      db,
      vars: { thing: "pump-1", deviceId: "dev-1" },
      cleanSession: false,
      reconnect: { min: 20, max: 200 },
    };
    const got: string[] = [];
    try {
      const first = new MqttClient(options).start();
      await first.subscribe("cmd/${thing}", (m) => void got.push(m.text()), { qos: 1 });
      await first.waitConnected();
      await first.close();
      const cloud = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
      await cloud.publishAsync("cmd/pump-1", "while away", { qos: 1 });
      await cloud.endAsync();
      // A new process: it registers its handler, the broker delivers the stored message.
      const second = new MqttClient(options);
      await second.subscribe("cmd/${thing}", (m) => void got.push(m.text()), { qos: 1 });
      second.start();
      await until(() => got.length === 1, SLOW);
      equal(got[0], "while away");
      await second.close();
    } finally {
      db.close();
    }
  },
});
