/**
 * MqttClient against an in-process aedes broker: wait modes, QoS 0 offline
 * policy, subscriptions (local wildcards, several handlers, restored after a
 * broker restart), request/response, limits and queue bounds.
 */

import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import mqtt from "mqtt";
import { MqttError } from "../lib/mqtt/mod.ts";
import { startAedes } from "./helpers/aedes.ts";
import { until } from "./helpers/wait.ts";
import { testClient } from "./mqtt_helpers.ts";

const dec = new TextDecoder();

/** A raw npm:mqtt client acting as the cloud side. */
async function peer(url: string, protocolVersion: 4 | 5 = 4) {
  const c = await mqtt.connectAsync(url, { protocolVersion, reconnectPeriod: 0 });
  return Object.assign(c, { [Symbol.asyncDispose]: () => c.endAsync(true) });
}

Deno.test("wait none resolves while offline with the message queued; it is sent once connected", async () => {
  await using broker = await startAedes();
  await broker.stop();
  await using h = testClient(broker.url);
  h.client.start();
  const r = await h.client.publish("dt/${thing}/t", "hello", { qos: 1, wait: "none" });
  equal(r.status, "queued");
  equal(h.client.status().queueDepth, 1);
  const row = h.db.prepare("SELECT topic, payload FROM _mqtt_queue").get() as {
    topic: string;
    payload: Uint8Array;
  };
  equal(row.topic, "dt/pump-1/t");
  equal(dec.decode(row.payload), "hello");
  await broker.start();
  await until(() => broker.received.some((m) => m.topic === "dt/pump-1/t"));
  await until(() => h.client.status().queueDepth === 0);
  equal(h.db.prepare("SELECT count(*) AS n FROM _mqtt_queue").get()!.n, 0);
});

Deno.test("wait sent resolves once written and wait ack on PUBACK, in order", async () => {
  await using broker = await startAedes();
  await using h = testClient(broker.url);
  h.client.start();
  const results = await Promise.all(
    Array.from(
      { length: 50 },
      (_, i) => h.client.publish("seq", String(i), { qos: 1, wait: i % 2 ? "sent" : "ack" }),
    ),
  );
  deepEqual(results.map((r) => r.status), results.map((_, i) => (i % 2 ? "sent" : "acked")));
  await until(() => broker.received.filter((m) => m.topic === "seq").length === 50);
  deepEqual(
    broker.received.filter((m) => m.topic === "seq").map((m) => dec.decode(m.payload)),
    Array.from({ length: 50 }, (_, i) => String(i)),
  );
});

Deno.test("QoS 0 offline is dropped by default and queued with qos0 queue", async () => {
  await using broker = await startAedes();
  await broker.stop();
  await using a = testClient(broker.url);
  await using b = testClient(broker.url, { queue: { qos0: "queue" } });
  a.client.start();
  b.client.start();
  equal((await a.client.publish("q0/a", "x", { qos: 0 })).status, "dropped");
  equal(a.client.status().droppedOffline, 1);
  equal((await b.client.publish("q0/b", "y", { qos: 0 })).status, "queued");
  await broker.start();
  await until(() => broker.received.some((m) => m.topic === "q0/b"));
  await until(() => b.client.status().queueDepth === 0);
  equal(broker.received.some((m) => m.topic === "q0/a"), false);
});

Deno.test("subscribe: one broker subscription per filter, local wildcard dispatch, restored after restart", async () => {
  await using broker = await startAedes();
  await using h = testClient(broker.url);
  h.client.start();
  await h.client.waitConnected();
  const seen: string[] = [];
  await h.client.subscribe("cmd/${thing}/#", (m) => void seen.push(`hash:${m.topic}`));
  await h.client.subscribe("cmd/+/reboot", (m) => void seen.push(`plus:${m.topic}`));
  const second = await h.client.subscribe(
    "cmd/+/reboot",
    (m) => void seen.push(`plus2:${m.text()}`),
  );
  let brokerSubs = 0;
  broker.broker.on("subscribe", (subs) => (brokerSubs += subs.length));
  {
    await using cloud = await peer(broker.url);
    await cloud.publishAsync("cmd/pump-1/reboot", "now", { qos: 1 });
    await until(() => seen.length === 3);
    deepEqual(seen.sort(), ["hash:cmd/pump-1/reboot", "plus2:now", "plus:cmd/pump-1/reboot"]);
  }
  await second.unsubscribe();
  // Broker restart: subscriptions come back on the new connection.
  await broker.stop();
  await broker.start();
  await h.client.waitConnected();
  await until(() => brokerSubs >= 0 && broker.broker.connectedClients >= 1);
  await new Promise((r) => setTimeout(r, 50));
  seen.length = 0;
  {
    await using cloud = await peer(broker.url);
    await cloud.publishAsync("cmd/pump-1/reboot", "again", { qos: 1 });
    await until(() => seen.length === 2);
    deepEqual(seen.sort(), ["hash:cmd/pump-1/reboot", "plus:cmd/pump-1/reboot"]);
  }
});

// MQTT 5 request/response runs against mosquitto (aedes speaks 3.1.1 only): tests/mqtt_mosquitto_test.ts
Deno.test("request/response on MQTT 3.1.1 correlates by id in the payload and a per-request topic", async () => {
  await using broker = await startAedes();
  await using h = testClient(broker.url);
  h.client.start();
  await using responder = await peer(broker.url);
  await responder.subscribeAsync("svc/echo", { qos: 1 });
  responder.on("message", (_t, payload) => {
    const req = JSON.parse(String(payload));
    responder.publish(req.responseTopic, JSON.stringify({ n: req.n * 2 }), { qos: 1 });
  });
  const [a, b] = await Promise.all([
    h.client.request("svc/echo", { n: 1 }),
    h.client.request("svc/echo", { n: 21 }),
  ]);
  equal((a.json() as { n: number }).n, 2);
  equal((b.json() as { n: number }).n, 42);
  ok(a.topic.startsWith("tern/pump-1/response/"));
  ok(a.topic !== b.topic);
  await rejects(h.client.request("svc/echo", "text"), /must be a JSON object on MQTT 3\.1\.1/);
});

Deno.test("request without a responder times out with a clear error", async () => {
  await using broker = await startAedes();
  await using h = testClient(broker.url);
  h.client.start();
  await rejects(h.client.request("svc/none", { a: 1 }, { timeout: 150 }), (e: MqttError) => {
    equal(e.code, "TIMEOUT");
    equal(e.message, 'Request to "svc/none" got no response within 150 ms');
    return true;
  });
});

Deno.test("limits: AWS IoT payload, topic length and depth are refused before sending", async () => {
  await using broker = await startAedes();
  await using h = testClient(broker.url, {
    limits: { payload: 128 * 1024, topicLength: 256, topicLevels: 8 },
  });
  const big = new Uint8Array(128 * 1024 + 1);
  await rejects(
    h.client.publish("a/b", big),
    (e: MqttError) => e.code === "LIMIT" && /131073 bytes/.test(e.message),
  );
  await rejects(
    h.client.publish("a/".repeat(8) + "x", "p"),
    (e: MqttError) => e.code === "LIMIT" && /9 levels/.test(e.message),
  );
  await rejects(h.client.publish("t".repeat(257), "p"), (e: MqttError) => e.code === "LIMIT");
  await rejects(h.client.publish("a/+", "p"), TypeError);
  await rejects(h.client.publish("x/${thng}", "p"), /did you mean "\$\{thing\}"/);
  equal(h.client.status().queueDepth, 0);
});

Deno.test("queue full: reject gives QUEUE_FULL, dropOldest keeps the newest and counts drops", async () => {
  await using broker = await startAedes();
  await broker.stop();
  await using a = testClient(broker.url, { queue: { maxMessages: 3 } });
  for (let i = 0; i < 3; i++) await a.client.publish("f", String(i));
  await rejects(a.client.publish("f", "3"), (e: MqttError) => e.code === "QUEUE_FULL");
  equal(a.client.status().dropped, 1);

  await using b = testClient(broker.url, { queue: { maxMessages: 3, full: "dropOldest" } });
  b.client.start();
  const waiting = b.client.publish("g", "0", { wait: "ack" });
  for (let i = 1; i < 5; i++) await b.client.publish("g", String(i));
  await rejects(waiting, (e: MqttError) => e.code === "DROPPED");
  equal(b.client.status().dropped, 2);
  await broker.start();
  await until(() => broker.received.filter((m) => m.topic === "g").length === 3);
  deepEqual(broker.received.filter((m) => m.topic === "g").map((m) => dec.decode(m.payload)), [
    "2",
    "3",
    "4",
  ]);
});

Deno.test("a message the broker disconnects for (policy) is dropped as poison; the queue behind it flows", async () => {
  await using broker = await startAedes({
    authorizePublish: (_client, packet, cb) =>
      cb(packet.topic === "forbidden" ? new Error("no") : null),
  });
  await using h = testClient(broker.url, { reconnect: { min: 5, max: 20 } });
  h.client.start();
  const bad = h.client.publish("forbidden", "x", { wait: "ack" });
  const good = Array.from(
    { length: 5 },
    (_, i) => h.client.publish("ok", String(i), { wait: "ack" }),
  );
  await rejects(bad, (e: MqttError) => e.code === "REJECTED");
  await Promise.all(good);
  equal(h.client.status().poison, 1);
  equal(h.client.status().queueDepth, 0);
  deepEqual(
    broker.received.filter((m) => m.topic === "ok").map((m) => dec.decode(m.payload)).slice(-5),
    [
      "0",
      "1",
      "2",
      "3",
      "4",
    ],
  );
});

Deno.test("close() does not hang on a broker that never acknowledges", async () => {
  await using broker = await startAedes({ authorizePublish: () => {/* never answers */} });
  await using h = testClient(broker.url);
  h.client.start();
  await h.client.waitConnected();
  const waiting = h.client.publish("stuck", "x", { wait: "ack" });
  await until(() => h.client.status().inflight === 1);
  const t0 = Date.now();
  await h.client.close();
  ok(Date.now() - t0 < 4000, `closed in ${Date.now() - t0} ms`);
  await rejects(waiting, (e: MqttError) => e.code === "CLOSED");
  equal(h.client.status().queueDepth, 1, "the message stays queued for the next start");
});

Deno.test("ws:// transport works through a WebSocket endpoint", async () => {
  await using broker = await startAedes();
  const conns: Promise<void>[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req, { protocol: "mqtt" });
    socket.binaryType = "arraybuffer";
    conns.push((async () => {
      const tcp = await Deno.connect({ hostname: "127.0.0.1", port: broker.port });
      const writer = tcp.writable.getWriter();
      socket.onmessage = (e) =>
        void writer.write(new Uint8Array(e.data as ArrayBuffer)).catch(() => {});
      socket.onclose = () => void writer.close().catch(() => {});
      if (socket.readyState !== WebSocket.OPEN) await new Promise((r) => (socket.onopen = r));
      try {
        for await (const chunk of tcp.readable) {
          if (socket.readyState === WebSocket.OPEN) socket.send(chunk);
        }
      } catch {
        // closed
      }
      if (socket.readyState === WebSocket.OPEN) socket.close();
    })());
    return response;
  });
  try {
    await using h = testClient(`ws://127.0.0.1:${server.addr.port}/mqtt`);
    h.client.start();
    equal((await h.client.publish("ws/t", "over websocket", { wait: "ack" })).status, "acked");
    equal(broker.received.filter((m) => m.topic === "ws/t").length, 1);
  } finally {
    await server.shutdown();
    await Promise.allSettled(conns);
  }
});

Deno.test("last will: published by the broker when the device vanishes, not on a clean close", async () => {
  await using broker = await startAedes();
  // A TCP relay we can cut, like a device losing power or network.
  const relay = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const pipes: Promise<unknown>[] = [];
  const serving = (async () => {
    for await (const c of relay) {
      const up = await Deno.connect({ hostname: "127.0.0.1", port: broker.port });
      conns.push(c, up);
      pipes.push(
        Promise.allSettled([c.readable.pipeTo(up.writable), up.readable.pipeTo(c.writable)]),
      );
    }
  })();
  await using cloud = await peer(broker.url);
  await cloud.subscribeAsync("status/#", { qos: 1 });
  const wills: string[] = [];
  cloud.on("message", (topic, payload) => wills.push(`${topic}=${payload}`));
  const relayUrl = `mqtt://127.0.0.1:${(relay.addr as Deno.NetAddr).port}`;
  const h = testClient(relayUrl, {
    will: { topic: "status/${thing}", payload: "offline", qos: 1, retain: false },
    reconnect: { min: 60_000, max: 60_000 },
  });
  try {
    h.client.start();
    await h.client.waitConnected();
    for (const c of conns) c.close(); // cut the wire: no DISCONNECT reaches the broker
    await until(() => wills.length === 1);
    equal(wills[0], "status/pump-1=offline");
    // A clean close sends DISCONNECT: no will.
    const clean = testClient(broker.url, {
      will: { topic: "status/clean", payload: "offline", qos: 1, retain: false },
    });
    clean.client.start();
    await clean.client.waitConnected();
    await clean[Symbol.asyncDispose]();
    await new Promise((r) => setTimeout(r, 200));
    deepEqual(wills, ["status/pump-1=offline"]);
  } finally {
    await h[Symbol.asyncDispose]();
    relay.close();
    await serving;
    await Promise.allSettled(pipes);
  }
});
