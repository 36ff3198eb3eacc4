/**
 * The "mqtt" service inside a real Agent: built from config, queue in the
 * agent's database file, connection state in the service status.
 */

import { equal, ok } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { Agent } from "../lib/agent.ts";
import { configSchema, type LoadedConfig } from "../lib/config/mod.ts";
import { databaseService } from "../lib/db/mod.ts";
import { LogHub, RingSink } from "../lib/log/mod.ts";
import { type MqttService, mqttService } from "../lib/mqtt/mod.ts";
import { startAedes } from "./helpers/aedes.ts";
import { until } from "./helpers/wait.ts";
import { type WebService, webService } from "../routes/web_service.ts";

Deno.test("mqtt service: connects from config, publishes through the agent's database, reports status", async () => {
  await using broker = await startAedes();
  const dir = await Deno.makeTempDir({ prefix: "tern-mqtt-svc-" });
  try {
    const config = configSchema.parse({
      agent: { state: dir },
      web: { enabled: false },
      device: { id: "dev-7", thing: "pump-7" },
      mqtt: {
        enabled: true,
        url: broker.url,
        topics: { telemetry: "dt/${thing}/telemetry" },
        reconnect: { min: 20, max: 200 },
      },
    });
    const loaded: LoadedConfig = { config, configDir: dir, stateDir: dir, files: [], secrets: [] };
    const ring = new RingSink(100);
    const agent = await Agent.start({
      loaded,
      factories: [databaseService, mqttService],
      hub: new LogHub({ sinks: [ring] }),
      ring,
    });
    try {
      const mqtt = agent.get<MqttService>("mqtt").client;
      equal(mqtt.topic("telemetry"), "dt/pump-7/telemetry");
      const r = await mqtt.publish(mqtt.topic("telemetry"), { t: 20 }, { wait: "ack" });
      equal(r.status, "acked");
      equal(broker.received.filter((m) => m.topic === "dt/pump-7/telemetry").length, 1);
      equal(broker.connects.at(-1)?.clientId, "pump-7", "client id defaults to the thing name");
      const state = agent.states().find((s) => s.name === "mqtt")!;
      equal(state.state, "running");
      await until(() => agent.states().find((s) => s.name === "mqtt")?.details?.connected === true);
      const details = agent.states().find((s) => s.name === "mqtt")!.details!;
      equal(details.queueDepth, 0);
      equal(details.reconnects, 0);
      ok(typeof details.since === "number");
      ok(agent.get<MqttService>("mqtt").prometheus().includes("\ntern_mqtt_connected 1\n"));
      // Offline: the message waits in the agent's own database file.
      await broker.stop();
      await until(() => !mqtt.connected);
      await mqtt.publish("dt/${thing}/offline", "x");
      const db = new DatabaseSync(join(dir, config.database.path));
      equal((db.prepare("SELECT count(*) AS n FROM _mqtt_queue").get() as { n: number }).n, 1);
      db.close();
      equal(agent.states().find((s) => s.name === "mqtt")!.details!.queueDepth, 1);
    } finally {
      await agent.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("the web server's /metrics carries the MQTT service's own series", async () => {
  await using broker = await startAedes();
  const dir = await Deno.makeTempDir({ prefix: "tern-mqtt-metrics-" });
  try {
    const config = configSchema.parse({
      agent: { state: dir },
      web: { listen: ["http://127.0.0.1:0"], metrics: { role: "public" } },
      device: { id: "dev-8", thing: "pump-8" },
      mqtt: { enabled: true, url: broker.url, reconnect: { min: 20, max: 200 } },
    });
    const loaded: LoadedConfig = { config, configDir: dir, stateDir: dir, files: [], secrets: [] };
    const agent = await Agent.start({
      loaded,
      factories: [databaseService, mqttService, webService],
    });
    try {
      await until(() => agent.get<MqttService>("mqtt").client.connected);
      const url = agent.get<WebService>("web").endpoints[0]!;
      const text = await (await fetch(`${url}/metrics`)).text();
      ok(text.includes("\ntern_mqtt_connected 1\n"), "MQTT series in /metrics");
      ok(text.includes("tern_http_requests_total"), "the web server's own series too");
    } finally {
      await agent.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
