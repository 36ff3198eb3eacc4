/**
 * Connection windows and on-demand connection, on an injected clock with a
 * real broker: no connection outside the window, connect when it opens,
 * disconnect when it closes; on demand, connect only to send and disconnect
 * after the idle time.
 */

import { equal } from "node:assert/strict";
import { FakeClock } from "../lib/clock.ts";
import { startAedes } from "./helpers/aedes.ts";
import { until } from "./helpers/wait.ts";
import { testClient } from "./mqtt_helpers.ts";

Deno.test("schedule: connects only inside the window and leaves when it ends", async () => {
  await using broker = await startAedes();
  const clock = new FakeClock(Date.parse("2026-01-05T07:59:00Z"));
  await using h = testClient(broker.url, {
    clientId: "windowed",
    clock,
    schedule: [{ from: "08:00", to: "08:30" }],
    reconnect: { min: 10, max: 50 },
  });
  const client = h.client.start();
  await client.publish("w/t", "early");
  await clock.waitForSleepers();
  await new Promise((r) => setTimeout(r, 50));
  equal(broker.connects.length, 0, "no connection before 08:00");
  await clock.advance(60_000);
  await until(() => client.connected);
  await until(() => client.status().queueDepth === 0);
  equal(broker.received.filter((m) => m.topic === "w/t").length, 1);
  await clock.advance(30 * 60_000);
  await until(() => !client.connected && broker.broker.connectedClients === 0);
  await client.publish("w/t", "late");
  await new Promise((r) => setTimeout(r, 50));
  equal(client.connected, false, "stays offline after 08:30");
  equal(client.status().queueDepth, 1);
});

Deno.test("on demand: connects to send, disconnects after the idle time", async () => {
  await using broker = await startAedes();
  const clock = new FakeClock();
  await using h = testClient(broker.url, {
    clientId: "sleepy",
    clock,
    onDemand: { enabled: true, idle: 30_000 },
    reconnect: { min: 10, max: 50 },
  });
  const client = h.client.start();
  await new Promise((r) => setTimeout(r, 50));
  equal(broker.connects.length, 0, "nothing to send: no connection");
  const sent = client.publish("d/t", "reading", { wait: "ack" });
  await until(() => client.connected);
  await sent;
  await clock.advance(29_000);
  equal(client.connected, true, "still inside the idle time");
  await clock.advance(1_000);
  await until(() => !client.connected);
  equal(broker.connects.length, 1);
  await client.publish("d/t", "another", { wait: "ack" });
  equal(broker.connects.length, 2);
  equal(broker.received.filter((m) => m.topic === "d/t").length, 2);
});
