/**
 * Child process of tests/mqtt_permissions_test.ts, run with exactly the
 * permission flags `tern permissions` derives: loads the config directory,
 * connects with the mqtt section, publishes one QoS 1 message with wait "ack"
 * and prints "acked" (or the error).
 *
 * Usage: deno run <derived flags> tests/mqtt_permissions_child.ts CONFIG_DIR
 */

import { DatabaseSync } from "node:sqlite";
import { resolve } from "node:path";
import { loadConfig } from "../lib/config/mod.ts";
import { clientOptionsFromConfig, MqttClient } from "../lib/mqtt/mod.ts";

if (import.meta.main) {
  try {
    const loaded = loadConfig({ dir: Deno.args[0]!, required: true, env: () => undefined });
    const { config } = loaded;
    const db = new DatabaseSync(resolve(loaded.stateDir, config.database.path));
    const options = await clientOptionsFromConfig(config.mqtt, {
      db,
      deviceId: config.device.id ?? "perm-dev",
      configDir: loaded.configDir,
    });
    const client = new MqttClient(options).start();
    const r = await client.publish("perm/t", "hi", {
      wait: "ack",
      signal: AbortSignal.timeout(5000),
    });
    console.log(r.status);
    await client.close();
    db.close();
  } catch (e) {
    console.log(`error: ${e instanceof Error ? e.stack : String(e)}`);
  }
}
