/**
 * The update child of the update tests: the real `Updater` (lib/cloud/update)
 * on the real MQTT client, Jobs client, SQLite store and installer, without
 * the rest of the agent, so the kill -9 matrix stays fast. It prints
 * `running VERSION` at start, `paused at STEP` when `STATE/pause-at` names
 * the install step about to run (once per step: `STATE/paused-STEP`), and
 * exits with the code the updater asks for (75) like `tern run` does.
 *
 * Usage: deno run --allow-all tests/update_child.ts '{"broker","state","bin","thing","version","target","update"}'
 */

import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { MqttClient } from "../lib/mqtt/mod.ts";
import { HttpClient } from "../lib/http/mod.ts";
import { systemClock } from "../lib/clock.ts";
import { nullLogger } from "../lib/log/mod.ts";
import { configSchema } from "../lib/config/mod.ts";
import { onExitRequest } from "../lib/exit_request.ts";
import { Installer, JobsClient, Updater, UpdateStore } from "../lib/cloud/update/mod.ts";

const arg = JSON.parse(Deno.args[0]!);
console.log(`running ${arg.version}`);
const db = new DatabaseSync(join(arg.state, "tern.db"));
db.exec("PRAGMA journal_mode = WAL");
const mqtt = new MqttClient({
  url: arg.broker,
  clientId: arg.thing,
  vars: { thing: arg.thing, deviceId: arg.thing },
  reconnect: { min: 20, max: 200 },
  db,
});
mqtt.start();
const config = configSchema.parse({ update: arg.update }).update;
const http = new HttpClient({ retries: 0 });
const updater = new Updater({
  jobs: new JobsClient({ mqtt, thing: arg.thing, clock: systemClock, timeout: 3000 }),
  store: new UpdateStore(db),
  installer: new Installer({ bin: arg.bin, stateDir: arg.state }),
  http,
  clock: systemClock,
  log: nullLogger,
  config,
  stateDir: arg.state,
  version: arg.version,
  target: arg.target,
  audit: (action, details) => console.log(`audit ${action} ${JSON.stringify(details)}`),
  healthy: () =>
    arg.unhealthy ? "unhealthy on purpose" : mqtt.connected ? undefined : "not connected",
  idle: () => true,
  beforeStep: async (step) => {
    let at = "";
    try {
      at = Deno.readTextFileSync(join(arg.state, "pause-at")).trim();
    } catch { /* none */ }
    const mark = join(arg.state, `paused-${step}`);
    if (at === step) {
      try {
        Deno.statSync(mark);
        return;
      } catch { /* first time */ }
      Deno.writeTextFileSync(mark, "");
      console.log(`paused at ${step}`);
      await new Promise(() => {}); // killed here
    }
  },
});
onExitRequest(async (code) => {
  await updater[Symbol.asyncDispose]();
  await mqtt.close();
  db.close();
  console.log(`exit ${code}`);
  Deno.exit(code);
});
await updater.start();
