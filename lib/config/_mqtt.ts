/**
 * The `mqtt` section: connection to AWS IoT Core or any MQTT 3.1.1 / 5 broker,
 * the persistent queue, reconnect backoff, schedule and topic templates.
 *
 * ```json5
 * mqtt: {
 *   enabled: true,
 *   endpoint: "abc123-ats.iot.eu-west-1.amazonaws.com",   // AWS IoT Core: mqtts on 8883
 *   port: 443,                                             // 443 uses ALPN "x-amzn-mqtt-ca"
 *   cert: "certs/device.crt", key: "certs/device.key", ca: "certs/AmazonRootCA1.pem",
 *   // or any broker: url: "mqtt://127.0.0.1:1883" (mqtt, mqtts, ws, wss)
 *   topics: { telemetry: "dt/${thing}/telemetry" },
 *   queue: { maxMessages: 100000, maxBytes: 67108864, full: "reject", qos0: "drop" },
 * }
 * ```
 *
 * Units: times in ms except `keepalive` (seconds, as in MQTT); sizes in bytes.
 * Relative cert/key/ca paths are resolved against the config directory.
 */

import * as z from "../validate/mod.ts";
import { resolve } from "../path.ts";
import { bytes, ms, type PathBase, type PermissionNeeds, port } from "./_types.ts";

/** A topic or template: `${thing}` and `${deviceId}` are replaced at run time. */
const topic = z.string().min(1).max(65535);

const window = z.strictObject({
  /** Days of the week (UTC) the window applies to. @default every day */
  days: z.array(z.enum(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])).min(1).optional(),
  /** Start, "HH:MM" UTC. */
  from: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time like "08:30"'),
  /** End, "HH:MM" UTC; before `from` means the window spans midnight. */
  to: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'a time like "17:45"'),
});

export type MqttWindow = z.infer<typeof window>;

export const mqttSection = z.strictObject({
  enabled: z.boolean().default(false),
  /** Broker URL: mqtt://, mqtts://, ws:// or wss://, with port. Exclusive with `endpoint`. */
  url: z.string().regex(/^(mqtts?|wss?):\/\/[^/\s]+/, 'a URL like "mqtts://host:8883"').optional(),
  /** AWS IoT Core data endpoint (host name only); connects with mqtts to `port`. */
  endpoint: z.string().regex(
    /^[A-Za-z0-9.-]+$/,
    'a host name like "abc-ats.iot.eu-west-1.amazonaws.com"',
  )
    .optional(),
  /** Port for `endpoint`: 8883, or 443 (then ALPN "x-amzn-mqtt-ca" is sent). @default 8883 */
  port: port().optional(),
  /** ALPN protocol names to offer; default ["x-amzn-mqtt-ca"] on port 443 with mqtts, none otherwise. */
  alpn: z.array(z.string().min(1)).optional(),
  /** PEM files, relative to the config dir: device certificate, its private key, the CA to trust. */
  cert: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  ca: z.string().min(1).optional(),
  /** TLS server name (SNI) when it differs from the host. */
  servername: z.string().min(1).optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  /** Client id (≤ 128 bytes on AWS IoT). @default device.thing, else device.id */
  clientId: z.string().min(1).max(65535).optional(),
  /** MQTT protocol version: 4 is 3.1.1, 5 is MQTT 5. */
  protocolVersion: z.union([z.literal(4), z.literal(5)]).default(4),
  /** Keep-alive in seconds (AWS IoT accepts 30 to 1200). */
  keepalive: z.number().int().min(0).max(65535).default(60),
  /** Clean session (3.1.1) / clean start (5). false keeps subscriptions and queued QoS 1 at the broker. */
  cleanSession: z.boolean().default(true),
  /** MQTT 5 session expiry in seconds (with cleanSession false). */
  sessionExpiry: z.number().int().nonnegative().optional(),
  /** Time to wait for CONNACK, in ms. */
  connectTimeout: ms().min(100).default(30_000),
  /** Last will, published by the broker when the device vanishes. */
  will: z.strictObject({
    topic,
    payload: z.string().default(""),
    qos: z.union([z.literal(0), z.literal(1)]).default(1),
    retain: z.boolean().default(false),
  }).optional(),
  /** Reconnect backoff with full jitter, in ms; `authMin`/`authMax` after auth failures. */
  reconnect: z.strictObject({
    min: ms().min(1).default(1_000),
    max: ms().min(1).default(120_000),
    authMin: ms().min(1).default(60_000),
    authMax: ms().min(1).default(3_600_000),
  }).prefault({}),
  /** Windows (UTC) when the device may connect. Empty: always. */
  schedule: z.array(window).default([]),
  /** Connect only while there is something to send or a request/subscription waiting to be served. */
  onDemand: z.strictObject({
    enabled: z.boolean().default(false),
    /** Disconnect after this many ms with nothing queued or in flight. */
    idle: ms().default(30_000),
  }).prefault({}),
  /** Named topic templates, e.g. { telemetry: "dt/${thing}/telemetry" }. */
  topics: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), topic).default({}),
  /** Template of the per-request response topic base; the request id is appended. */
  responseTopic: topic.default("tern/${thing}/response"),
  /** Default request timeout, in ms. */
  requestTimeout: ms().min(1).default(10_000),
  /** The persistent queue (table `_mqtt_queue` in the agent's database). */
  queue: z.strictObject({
    /** Most messages kept. */
    maxMessages: z.number().int().min(1).default(100_000),
    /** Most bytes kept (topic + payload). */
    maxBytes: bytes().min(1024).default(64 * 1024 * 1024),
    /** When full: "reject" the new message with an error, or "dropOldest" to make room. */
    full: z.enum(["reject", "dropOldest"]).default("reject"),
    /** QoS 0 while offline: "drop" it (counted) or "queue" it like QoS 1. */
    qos0: z.enum(["drop", "queue"]).default("drop"),
    /** Unacknowledged QoS ≥ 1 messages on the wire at once. */
    inflight: z.number().int().min(1).max(65535).default(100),
    /** A message the connection died on this many times while sent alone is dropped as poison. */
    poisonStrikes: z.number().int().min(1).default(3),
  }).prefault({}),
  /** Limits checked before sending. Omitted: AWS IoT Core's for an AWS endpoint, MQTT's otherwise. */
  limits: z.strictObject({
    /** Payload bytes (AWS IoT: 131072). */
    payload: bytes().min(1).optional(),
    /** Topic bytes (AWS IoT: 256). */
    topicLength: z.number().int().min(1).max(65535).optional(),
    /** Topic levels, i.e. slashes + 1 (AWS IoT: 8). */
    topicLevels: z.number().int().min(1).optional(),
    /** Publishes per second per connection; 0 is unlimited (AWS IoT: 100). */
    publishRate: z.number().nonnegative().optional(),
  }).prefault({}),
}).prefault({}).superRefine((m, ctx) => {
  if (m.url && m.endpoint) {
    ctx.addIssue({
      code: "custom",
      path: ["endpoint"],
      message: 'Set either "url" or "endpoint", not both',
    });
  }
  if (m.enabled && !m.url && !m.endpoint) {
    ctx.addIssue({
      code: "custom",
      path: ["url"],
      message: 'Set "url" or "endpoint" to enable MQTT',
    });
  }
  if ((m.cert === undefined) !== (m.key === undefined)) {
    ctx.addIssue({ code: "custom", path: ["key"], message: '"cert" and "key" go together' });
  }
  if (m.reconnect.min > m.reconnect.max) {
    ctx.addIssue({
      code: "custom",
      path: ["reconnect", "min"],
      message: "must not exceed reconnect.max",
    });
  }
});

export type MqttConfig = z.infer<typeof mqttSection>;

const DEFAULT_PORT: Record<string, string> = {
  "mqtt:": "1883",
  "mqtts:": "8883",
  "ws:": "80",
  "wss:": "443",
};

/** The broker URL a config connects to (`endpoint` becomes `mqtts://endpoint:port`). */
export function mqttBrokerUrl(mqtt: MqttConfig): string | undefined {
  if (mqtt.url) return mqtt.url;
  if (mqtt.endpoint) return `mqtts://${mqtt.endpoint}:${mqtt.port ?? 8883}`;
  return undefined;
}

export function mqttPermissions(mqtt: MqttConfig, base: PathBase): Partial<PermissionNeeds> {
  const url = mqttBrokerUrl(mqtt);
  if (!mqtt.enabled || !url) return {};
  const u = new URL(url);
  const read = [mqtt.cert, mqtt.key, mqtt.ca].filter((p): p is string => !!p).map((p) =>
    resolve(base.configDir, p)
  );
  return { net: [`${u.hostname}:${u.port || DEFAULT_PORT[u.protocol]}`], read };
}
