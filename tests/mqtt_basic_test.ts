import { equal as assertEquals } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { MqttClient } from "../lib/mqtt/client.ts";
import { startAedes } from "./helpers/aedes.ts";

Deno.test("publish with wait ack reaches the broker and leaves the queue empty", async () => {
  await using broker = await startAedes();
  const db = new DatabaseSync(":memory:");
  await using client = new MqttClient({
    url: broker.url,
    clientId: "dev1",
    db,
    vars: { thing: "t1", deviceId: "d1" },
    reconnect: { min: 20, max: 200 },
  }).start();
  const r = await client.publish("dt/${thing}/x", { a: 1 }, { qos: 1, wait: "ack" });
  assertEquals(r.status, "acked");
  const got = broker.received.filter((m) => m.topic === "dt/t1/x");
  assertEquals(got.length, 1);
  assertEquals(new TextDecoder().decode(got[0]!.payload), '{"a":1}');
  assertEquals(client.status().queueDepth, 0);
  db.close();
});
