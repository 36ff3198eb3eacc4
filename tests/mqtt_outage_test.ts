/**
 * Outage: the broker stops in the middle of a stream of QoS 1 publishes and
 * comes back later; every message must arrive (at-least-once: duplicates are
 * counted and reported, never losses).
 *
 * Default suite: 2,000 messages, 1 s outage. The full size from the issue
 * (10,000 messages, 10 s outage) runs when TERN_SLOW_TESTS=1 (set by .ci/run).
 */

import { equal, ok } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { MqttClient } from "../lib/mqtt/mod.ts";
import { startAedes } from "./helpers/aedes.ts";
import { skipUnlessSlow } from "./helpers/peers.ts";
import { until } from "./helpers/wait.ts";

const dec = new TextDecoder();

async function outage(total: number, downMs: number): Promise<void> {
  await using broker = await startAedes();
  const file = await Deno.makeTempFile({ suffix: ".db" });
  const db = new DatabaseSync(file);
  db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL");
  const client = new MqttClient({
    url: broker.url,
    clientId: "outage-dev",
    db,
    vars: { thing: "t", deviceId: "d" },
    reconnect: { min: 100, max: 1000 },
    queue: { maxMessages: total },
  }).start();
  try {
    const started = Date.now();
    let stoppedAt = 0;
    let atStop = 0;
    const half = Math.floor(total / 2);
    // The outage starts when the broker has half the messages, whatever the producer's pace.
    const outageDone = (async () => {
      while (broker.received.length < half) await new Promise((r) => setTimeout(r, 1));
      stoppedAt = Date.now();
      atStop = broker.received.length;
      await broker.stop();
      await new Promise((r) => setTimeout(r, downMs));
      await broker.start();
    })();
    for (let i = 0; i < total; i += 50) {
      const batch = [];
      for (let j = i; j < Math.min(total, i + 50); j++) {
        batch.push(client.publish("outage/seq", String(j), { qos: 1 }));
      }
      await Promise.all(batch);
      await new Promise((r) => setTimeout(r, 1)); // a device produces over time
    }
    await outageDone;
    ok(
      stoppedAt > 0 && atStop < total,
      `the broker was stopped mid-way (at ${atStop} of ${total})`,
    );
    const distinctSeen = () =>
      new Set(
        broker.received.filter((m) => m.topic === "outage/seq").map((m) => dec.decode(m.payload)),
      ).size;
    await until(() => distinctSeen() >= total, {
      ms: downMs + 60_000,
      what: () =>
        `received ${distinctSeen()} distinct of ${total}, queue ${client.status().queueDepth}`,
    });
    await until(() => client.status().queueDepth === 0, {
      ms: 10_000,
      what: () => `queue ${client.status().queueDepth}`,
    });
    const payloads = broker.received.filter((m) => m.topic === "outage/seq").map((m) =>
      Number(dec.decode(m.payload))
    );
    const distinct = new Set(payloads);
    equal(distinct.size, total, "every message arrived");
    const duplicates = payloads.length - distinct.size;
    const s = client.status();
    console.log(
      `outage: ${total} QoS 1 messages, broker down ${downMs} ms: all arrived, ${duplicates} duplicate(s), ` +
        `${s.reconnects} reconnect(s), ${Date.now() - started} ms total`,
    );
    equal(s.reconnects >= 1, true);
  } finally {
    await client.close();
    db.close();
    await Deno.remove(file).catch(() => {});
    await Deno.remove(file + "-wal").catch(() => {});
    await Deno.remove(file + "-shm").catch(() => {});
  }
}

Deno.test("outage: 2,000 QoS 1 publishes, broker down 1 s mid-way: all arrive", async () => {
  await outage(2_000, 1_000);
});

Deno.test({
  name: "outage: 10,000 QoS 1 publishes, broker down 10 s mid-way: all arrive (TERN_SLOW_TESTS=1)",
  ignore: skipUnlessSlow(import.meta.url),
  fn: () => outage(10_000, 10_000),
});
