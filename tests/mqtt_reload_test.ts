/**
 * `reload()` of the "mqtt" service inside a real Agent, against real
 * in-process brokers: a live setting changes without a reconnect, a new broker
 * URL reconnects there without losing queued messages, a restart-only key is
 * logged and changes nothing.
 */

import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { Agent } from "../lib/agent.ts";
import { configSchema, type LoadedConfig } from "../lib/config/mod.ts";
import { databaseService } from "../lib/db/mod.ts";
import { LogHub, RingSink } from "../lib/log/mod.ts";
import { MqttError } from "../lib/mqtt/errors.ts";
import { type MqttService, mqttService } from "../lib/mqtt/mod.ts";
import { startAedes } from "./helpers/aedes.ts";

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("Timed out waiting for condition");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** An agent with the database and mqtt services; `mqtt` is merged into the base section. */
async function withAgent(
  mqtt: Record<string, unknown>,
  fn: (
    h: {
      agent: Agent;
      ring: RingSink;
      service: () => MqttService;
      reload: (mqtt: Record<string, unknown>) => Promise<string[]>;
    },
  ) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tern-mqtt-reload-" });
  const load = (m: Record<string, unknown>): LoadedConfig => ({
    config: configSchema.parse({
      agent: { state: dir },
      web: { enabled: false },
      device: { id: "dev-9", thing: "pump-9" },
      mqtt: { enabled: true, reconnect: { min: 20, max: 200 }, ...m },
    }),
    configDir: dir,
    stateDir: dir,
    files: [],
    secrets: [],
  });
  const ring = new RingSink(500);
  const agent = await Agent.start({
    loaded: load(mqtt),
    factories: [databaseService, mqttService],
    hub: new LogHub({ sinks: [ring] }),
    ring,
  });
  try {
    await fn({
      agent,
      ring,
      service: () => agent.get<MqttService>("mqtt"),
      reload: (m) => agent.reload(load(m)),
    });
  } finally {
    await agent.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test("mqtt reload: a live setting (payload limit, queue bound) applies without a reconnect", async () => {
  await using broker = await startAedes();
  await withAgent({ url: broker.url }, async ({ service, reload }) => {
    const mqtt = service().client;
    await mqtt.waitConnected();
    const big = "x".repeat(500);
    equal((await mqtt.publish("dt/a", big, { wait: "ack" })).status, "acked");

    const rest = await reload({
      url: broker.url,
      limits: { payload: 100 },
      queue: { maxMessages: 1 },
    });
    deepEqual(rest, [], "every changed key applied live");
    await rejects(
      mqtt.publish("dt/a", big, { wait: "ack" }),
      (e) => e instanceof MqttError && e.code === "LIMIT",
    );
    equal(mqtt.limits.payload, 100);
    equal((await mqtt.publish("dt/a", "small", { wait: "ack" })).status, "acked");
    // The new queue bound: with the broker gone, a second queued message is rejected.
    await broker.stop();
    await until(() => !mqtt.connected);
    await mqtt.publish("dt/queued", "1");
    await rejects(
      mqtt.publish("dt/queued", "2"),
      (e) => e instanceof MqttError && e.code === "QUEUE_FULL",
    );
    equal(broker.connects.length, 1, "one connection: the reload did not reconnect");
    equal(broker.received.filter((m) => m.topic === "dt/a").length, 2);
  });
});

Deno.test("mqtt reload: a new broker url reconnects there; messages queued before and during the switch arrive", async () => {
  await using a = await startAedes();
  await using b = await startAedes();
  await withAgent({ url: a.url }, async ({ service, reload }) => {
    const mqtt = service().client;
    equal((await mqtt.publish("dt/first", "0", { wait: "ack" })).status, "acked");
    // Broker A goes away: these wait in the durable queue.
    await a.stop();
    await until(() => !mqtt.connected);
    await mqtt.publish("dt/before", "1");
    await mqtt.publish("dt/before", "2", { qos: 2 });
    equal(mqtt.status().queueDepth, 2);

    const reloading = reload({ url: b.url });
    const during = mqtt.publish("dt/during", "3", { wait: "ack" });
    deepEqual(await reloading, []);
    equal((await during).status, "acked");
    await until(() => mqtt.status().queueDepth === 0);

    deepEqual(
      // Sorted: aedes announces a QoS 2 message only at PUBREL, after later QoS 1 ones.
      b.received.map((m) => `${m.topic}:${new TextDecoder().decode(m.payload)}`).sort(),
      ["dt/before:1", "dt/before:2", "dt/during:3"],
    );
    equal(b.received.find((m) => m.payload[0] === 0x32)?.qos, 2);
    equal(b.connects.length, 1);
    equal(b.connects[0]!.clientId, "pump-9");
    equal(mqtt.status().url, b.url);
    ok(a.received.every((m) => m.topic === "dt/first"), "nothing else went to the old broker");

    // Switching again while connected: a clean reconnect, back to A.
    await a.start();
    deepEqual(await reload({ url: a.url, clientId: "pump-9b" }), []);
    // The old connection is closing now: this one goes out on the new one.
    equal((await mqtt.publish("dt/after", "4", { wait: "ack" })).status, "acked");
    equal(a.received.at(-1)?.topic, "dt/after");
    equal(a.received.at(-1)?.clientId, "pump-9b");
    await until(() => b.broker.connectedClients === 0);
  });
});

Deno.test("mqtt reload: a restart-only key logs a warning and changes nothing", async () => {
  await using broker = await startAedes();
  await withAgent({ url: broker.url }, async ({ service, reload, ring }) => {
    const mqtt = service().client;
    await mqtt.waitConnected();
    const rest = await reload({ url: broker.url, responseTopic: "other/${thing}/resp" });
    deepEqual(rest, ["mqtt.responseTopic"]);
    const warns = ring.entries({ level: "warn", source: "mqtt" }).map((r) => r.msg);
    deepEqual(warns, ["mqtt.responseTopic changes on restart"]);
    equal(mqtt.connected, true);
    equal((await mqtt.publish("dt/still", "x", { wait: "ack" })).status, "acked");
    equal(broker.connects.length, 1, "no reconnect");

    // Turning the service off also waits for a restart: it keeps running as it was.
    deepEqual(
      await reload({
        enabled: false,
        url: broker.url,
        responseTopic: "other/${thing}/resp",
      }),
      ["mqtt.enabled"],
    );
    ok(
      ring.entries({ level: "warn", source: "mqtt" }).some((r) =>
        r.msg === "mqtt.enabled changes on restart"
      ),
    );
    equal((await mqtt.publish("dt/still", "y", { wait: "ack" })).status, "acked");
    equal(broker.connects.length, 1);
    equal(broker.received.filter((m) => m.topic === "dt/still").length, 2);
  });
});
