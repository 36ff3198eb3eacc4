/**
 * Child process of tests/mqtt_restart_test.ts: opens the queue database,
 * publishes COUNT QoS 1 messages ("0".."COUNT-1" to "restart/seq") with wait
 * "none", prints "queued COUNT" and keeps running (sending when the broker is
 * up) until the parent kills it with SIGKILL.
 *
 * Usage: deno run -A tests/mqtt_restart_child.ts DB_FILE BROKER_URL COUNT
 */

import { DatabaseSync } from "node:sqlite";
import { MqttClient } from "../lib/mqtt/mod.ts";

if (import.meta.main) {
  const [file, url, count] = Deno.args;
  const db = new DatabaseSync(file!);
  db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL");
  const client = new MqttClient({
    url: url!,
    clientId: "restart-dev",
    db,
    vars: { thing: "t", deviceId: "d" },
    reconnect: { min: 50, max: 200 },
  }).start();
  const n = Number(count);
  for (let i = 0; i < n; i += 100) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 100); j++) {
      batch.push(client.publish("restart/seq", String(j)));
    }
    await Promise.all(batch);
  }
  console.log(`queued ${n}`);
  setInterval(() => {}, 60_000);
}
