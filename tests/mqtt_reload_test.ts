/**
 * `reload()` of the "mqtt" service inside a real Agent, against real
 * in-process brokers: a live setting changes without a reconnect, a new broker
 * URL reconnects there without losing queued messages, a restart-only key is
 * logged and changes nothing, a reload that cannot apply changes nothing; and
 * SIGHUP to a real `tern run` (scoped permissions) reaches the service.
 */

import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import { join } from "node:path";
import { Agent } from "../lib/agent.ts";
import {
  configSchema,
  derivePermissions,
  loadConfig,
  type LoadedConfig,
  permissionFlags,
} from "../lib/config/mod.ts";
import { databaseService } from "../lib/db/mod.ts";
import { LogHub, RingSink } from "../lib/log/mod.ts";
import { MqttError } from "../lib/mqtt/errors.ts";
import { type MqttService, mqttService } from "../lib/mqtt/mod.ts";
import { startAedes } from "./helpers/aedes.ts";
import { forEachLine, spawnDeno } from "./helpers/process.ts";
import { until } from "./helpers/wait.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

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

Deno.test("mqtt reload: a new keepalive goes out in the next CONNECT, without a reconnect of its own", async () => {
  const keepalives: (number | undefined)[] = [];
  await using broker = await startAedes({
    preConnect: (_client, packet, done) => {
      keepalives.push(packet.keepalive);
      done(null, true);
    },
  });
  await withAgent({ url: broker.url, keepalive: 60 }, async ({ service, reload }) => {
    const mqtt = service().client;
    await mqtt.waitConnected();
    deepEqual(await reload({ url: broker.url, keepalive: 15, connectTimeout: 5_000 }), []);
    await new Promise((r) => setTimeout(r, 300));
    deepEqual(keepalives, [60], "no CONNECT for a keepalive change alone");
    equal(broker.tcpArrivals.length, 1);
    equal((await mqtt.publish("dt/k", "1", { wait: "ack" })).status, "acked");
    // The next connection (here after a broker restart) carries the new value.
    await broker.stop();
    await broker.start();
    await until(() => broker.connects.length === 2);
    deepEqual(keepalives, [60, 15]);
  });
});

Deno.test("mqtt reload: an unreadable certificate changes nothing and logs the error", async () => {
  await using broker = await startAedes();
  await withAgent({ url: broker.url }, async ({ service, reload, ring }) => {
    const mqtt = service().client;
    await mqtt.waitConnected();
    const before = mqtt.limits.payload;
    const rest = await reload({
      url: broker.url,
      cert: "missing.crt",
      key: "missing.key",
      limits: { payload: 10 },
    });
    deepEqual(rest.sort(), ["mqtt.cert", "mqtt.key", "mqtt.limits.payload"]);
    const errors = ring.entries({ level: "error" });
    ok(
      errors.some((r) => r.msg === "Reload failed" && r.fields?.service === "mqtt"),
      JSON.stringify(errors),
    );
    equal(mqtt.limits.payload, before, "the live settings stay too");
    equal((await mqtt.publish("dt/c", "more than ten bytes", { wait: "ack" })).status, "acked");
    equal(broker.connects.length, 1, "no reconnect");
  });
});

Deno.test("mqtt reload: SIGHUP to tern run reconnects to a new broker; a bad config or a broker it may not reach changes nothing", async () => {
  await using a = await startAedes();
  const keepalives: (number | undefined)[] = [];
  await using b = await startAedes({
    preConnect: (_client, packet, done) => {
      keepalives.push(packet.keepalive);
      done(null, true);
    },
  });
  await using c = await startAedes();
  const dir = await Deno.makeTempDir({ prefix: "tern-mqtt-hup-" });
  const conf = join(dir, "conf");
  await Deno.mkdir(conf);
  await Deno.writeTextFile(
    join(conf, "tern.json5"),
    JSON.stringify({
      agent: { state: join(dir, "state") },
      web: { enabled: false },
      device: { id: "hup-dev" },
      mqtt: { enabled: true, url: a.url, reconnect: { min: 20, max: 200 } },
    }),
  );
  const local = (mqtt: Record<string, unknown>) =>
    Deno.writeTextFile(join(conf, "local.json5"), JSON.stringify({ mqtt }));
  // Exactly what `tern permissions` derives, plus broker B (and not broker C), and
  // the sources: run from source, services are loaded by dynamic import.
  const loaded = loadConfig({ dir: conf, required: true, env: () => undefined });
  const needs = derivePermissions(loaded.config, loaded);
  needs.net.push(`127.0.0.1:${b.port}`);
  needs.read.push(new URL("..", import.meta.url).pathname);
  const child = spawnDeno(["--no-prompt", ...permissionFlags(needs)], MAIN, [
    "run",
    "--config",
    conf,
  ]);
  const lines: string[] = [];
  const reading = forEachLine(child.stderr, (l) => lines.push(l));
  const out = child.stdout.text();
  const logged = (re: RegExp) => until(() => lines.some((l) => re.test(l)), { ms: 15_000 });
  try {
    await until(() => a.connects.length === 1, { ms: 15_000 });
    equal(a.connects[0]!.clientId, "hup-dev");

    await local({ url: b.url, keepalive: 17 });
    child.kill("SIGHUP");
    await until(() => b.connects.length === 1, { ms: 15_000 });
    deepEqual(keepalives, [17]);
    await until(() => a.broker.connectedClients === 0, { ms: 15_000 });

    // A config with a problem: refused as a whole, the connection stays.
    await local({ url: c.url, keepalive: "often" });
    child.kill("SIGHUP");
    await logged(/"Reload refused: configuration has problems.*mqtt\.keepalive/);
    // A broker outside the granted --allow-net: refused, nothing changes.
    await local({ url: c.url, keepalive: 5 });
    child.kill("SIGHUP");
    await logged(new RegExp(`"Reload failed".*--allow-net=127\\.0\\.0\\.1:${c.port}`));
    await new Promise((r) => setTimeout(r, 300));
    equal(c.tcpArrivals.length, 0, "never tried broker C");
    equal(b.connects.length, 1, "still the one connection to B");
    equal(b.broker.connectedClients, 1);
    deepEqual(keepalives, [17]);
  } catch (e) {
    throw new Error(`${(e as Error).message}\nThe agent's log:\n${lines.join("\n")}`, {
      cause: e,
    });
  } finally {
    child.kill("SIGTERM");
    const status = await child.status;
    await reading;
    await out;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    equal(status.code, 0, lines.join("\n"));
  }
  match(lines.join("\n"), /"Agent stopped"/);
});
