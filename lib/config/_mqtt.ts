/**
 * The `mqtt` section: connection to AWS IoT Core or any MQTT 3.1.1 broker.
 *
 * ```json5
 * mqtt: { enabled: true, url: "mqtts://abc-ats.iot.eu-west-1.amazonaws.com:8883",
 *         cert: "certs/device.crt", key: "certs/device.key", ca: "certs/AmazonRootCA1.pem" }
 * ```
 */

import { z } from "zod";
import { resolve } from "node:path";
import type { PathBase, PermissionNeeds } from "./_types.ts";

export const mqttSection = z.strictObject({
  enabled: z.boolean().default(false),
  /** Broker URL: mqtt://, mqtts://, ws:// or wss://, with port. */
  url: z.string().regex(/^(mqtts?|wss?):\/\/[^/\s]+/, 'a URL like "mqtts://host:8883"').optional(),
  /** PEM files, relative to the config dir. */
  cert: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  ca: z.string().min(1).optional(),
  username: z.string().optional(),
  password: z.string().optional(),
}).prefault({});

export type MqttConfig = z.infer<typeof mqttSection>;

export function mqttPermissions(mqtt: MqttConfig, base: PathBase): Partial<PermissionNeeds> {
  if (!mqtt.enabled || !mqtt.url) return {};
  const u = new URL(mqtt.url);
  const defaults: Record<string, string> = {
    "mqtt:": "1883",
    "mqtts:": "8883",
    "ws:": "80",
    "wss:": "443",
  };
  const read = [mqtt.cert, mqtt.key, mqtt.ca].filter((p): p is string => !!p).map((p) =>
    resolve(base.configDir, p)
  );
  return { net: [`${u.hostname}:${u.port || defaults[u.protocol]}`], read };
}
