/**
 * Port-443 mode of AWS IoT Core: the client offers ALPN "x-amzn-mqtt-ca".
 * A local TLS listener (`Deno.listenTls` with `alpnProtocols`) records the
 * negotiated protocol and forwards the MQTT bytes to an aedes broker, so the
 * whole session runs over the ALPN-negotiated TLS connection.
 */

import { deepEqual, equal } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { clientOptionsFromConfig, MqttClient } from "../lib/mqtt/mod.ts";
import { mqttSection } from "../lib/config/_mqtt.ts";
import { startAedes } from "./helpers/aedes.ts";
import { makeTlsFixtures } from "./helpers/tls.ts";

Deno.test("endpoint on port 443 offers ALPN x-amzn-mqtt-ca; 8883 offers none", async () => {
  await using tls = await makeTlsFixtures();
  const db = new DatabaseSync(":memory:");
  const base = {
    enabled: true,
    endpoint: "abc-ats.iot.eu-west-1.amazonaws.com",
    ca: tls.paths.caCert,
  };
  const on443 = await clientOptionsFromConfig(mqttSection.parse({ ...base, port: 443 }), {
    db,
    deviceId: "pump-42",
    configDir: "/",
  });
  equal(on443.url, "mqtts://abc-ats.iot.eu-west-1.amazonaws.com:443");
  deepEqual(on443.tls?.alpn, ["x-amzn-mqtt-ca"]);
  equal(on443.clientId, "pump-42");
  const on8883 = await clientOptionsFromConfig(mqttSection.parse(base), {
    db,
    deviceId: "pump-42",
    configDir: "/",
  });
  equal(on8883.url, "mqtts://abc-ats.iot.eu-west-1.amazonaws.com:8883");
  equal(on8883.tls?.alpn, undefined);
  db.close();
});

Deno.test("an MQTT session runs over TLS with ALPN x-amzn-mqtt-ca negotiated", async () => {
  await using tls = await makeTlsFixtures();
  await using broker = await startAedes();
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: tls.serverCert,
    key: tls.serverKey,
    alpnProtocols: ["x-amzn-mqtt-ca"],
  });
  const negotiated: (string | null)[] = [];
  const pipes: Promise<unknown>[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      pipes.push((async () => {
        try {
          const hs = await conn.handshake();
          negotiated.push(hs.alpnProtocol);
          const upstream = await Deno.connect({ hostname: "127.0.0.1", port: broker.port });
          await Promise.allSettled([
            conn.readable.pipeTo(upstream.writable),
            upstream.readable.pipeTo(conn.writable),
          ]);
        } catch {
          // the client went away
        }
      })());
    }
  })();
  const db = new DatabaseSync(":memory:");
  const port = (listener.addr as Deno.NetAddr).port;
  const client = new MqttClient({
    url: `mqtts://localhost:${port}`,
    clientId: "alpn-dev",
    db,
    vars: { thing: "t", deviceId: "d" },
    tls: { ca: tls.caCert, alpn: ["x-amzn-mqtt-ca"] },
    reconnect: { min: 20, max: 100 },
  }).start();
  try {
    equal((await client.publish("alpn/t", "over 443", { wait: "ack" })).status, "acked");
    deepEqual(negotiated, ["x-amzn-mqtt-ca"]);
    equal(broker.received.filter((m) => m.topic === "alpn/t").length, 1);
  } finally {
    await client.close();
    db.close();
    listener.close();
    await serving;
    await Promise.allSettled(pipes);
  }
});
