/**
 * Shared set-up of the MQTT tests: an `MqttClient` on its own in-memory
 * database, both closed on dispose. Defaults: a random client id, topic
 * variables thing "pump-1" and deviceId "dev-1", reconnect 20…200 ms.
 *
 * ```ts
 * await using h = testClient(broker.url, { queue: { qos0: "queue" } });
 * h.client.start();
 * ```
 */

import { DatabaseSync } from "node:sqlite";
import { MqttClient, type MqttClientOptions } from "../lib/mqtt/mod.ts";

/** What {@linkcode testClient} opens. */
export interface TestClient extends AsyncDisposable {
  /** Not started yet. */
  client: MqttClient;
  db: DatabaseSync;
}

/** A client of the broker at `url` with `options` over the defaults. */
export function testClient(
  url: string,
  options: Partial<Omit<MqttClientOptions, "url" | "db">> = {},
): TestClient {
  const db = new DatabaseSync(":memory:");
  const client = new MqttClient({
    url,
    clientId: `dev-${crypto.randomUUID().slice(0, 8)}`,
    vars: { thing: "pump-1", deviceId: "dev-1" },
    reconnect: { min: 20, max: 200 },
    ...options,
    db,
  });
  return {
    client,
    db,
    async [Symbol.asyncDispose]() {
      await client.close();
      db.close();
    },
  };
}
