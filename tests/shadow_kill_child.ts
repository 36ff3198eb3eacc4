/**
 * Child of shadow_kill_test.ts: a device that updates its "thermostat"
 * shadow as fast as it can and prints `ack N` after each update() returned
 * (the change is in SQLite), until it is killed with SIGKILL.
 *
 * Args: broker URL, database path, thing name.
 */

import { DatabaseSync } from "node:sqlite";
import { MqttClient } from "../lib/mqtt/mod.ts";
import { Shadows } from "../lib/cloud/shadow/mod.ts";
import { nullLogger } from "../lib/log/mod.ts";
import { systemClock } from "../lib/clock.ts";

if (import.meta.main) {
  const [url, path, thing] = Deno.args as [string, string, string];
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL");
  const mqtt = new MqttClient({
    url,
    clientId: `kill-${crypto.randomUUID().slice(0, 8)}`,
    vars: { thing, deviceId: thing },
    reconnect: { min: 20, max: 200 },
    db,
  });
  const shadows = new Shadows({
    mqtt,
    db,
    thing,
    entries: {
      thermostat: {
        classic: false,
        direction: "both",
        sync: { mode: "change", debounce: 5 },
        recreate: false,
      },
    },
    requestTimeout: 2000,
    backoff: { min: 50, max: 500 },
    clock: systemClock,
    log: nullLogger,
  });
  mqtt.start();
  await shadows.start();
  await mqtt.waitConnected();
  const t = shadows.get("thermostat");
  const start = Number(t.get().reported.n ?? 0);
  const enc = new TextEncoder();
  for (let n = start + 1;; n++) {
    t.update({ n, [`k${n % 7}`]: n });
    await Deno.stdout.write(enc.encode(`ack ${n}\n`));
    await new Promise((r) => setTimeout(r, 2 + Math.random() * 10));
  }
}
