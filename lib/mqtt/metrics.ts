/**
 * MQTT connection and queue state as Prometheus text, for `/metrics`
 * (`MqttService.prometheus()`; the web service appends it to its own output):
 *
 * - `tern_mqtt_connected` gauge (0/1), `tern_mqtt_connected_since_seconds` gauge
 * - `tern_mqtt_reconnects_total`, `tern_mqtt_connect_attempts_total` counters
 * - `tern_mqtt_queue_messages`, `tern_mqtt_queue_bytes`, `tern_mqtt_inflight` gauges
 * - `tern_mqtt_messages_total{event="sent|acked|received|dropped|dropped_offline|poison"}` counter
 * - `tern_mqtt_auth_failure` gauge (0/1)
 */

import type { MqttStatus } from "./client.ts";

/** Render `status` in the Prometheus text exposition format. */
export function renderMqttMetrics(status: MqttStatus): string {
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, values: [string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of values) lines.push(`${name}${labels} ${v}`);
  };
  metric("tern_mqtt_connected", "gauge", "1 while connected to the broker", [[
    "",
    status.connected ? 1 : 0,
  ]]);
  metric(
    "tern_mqtt_connected_since_seconds",
    "gauge",
    "Unix time of the last connect or disconnect",
    [
      ["", Math.floor(status.since / 1000)],
    ],
  );
  metric("tern_mqtt_reconnects_total", "counter", "Successful connections after the first", [
    ["", status.reconnects],
  ]);
  metric("tern_mqtt_connect_attempts_total", "counter", "Connection attempts", [[
    "",
    status.attempts,
  ]]);
  metric("tern_mqtt_auth_failure", "gauge", "1 when the last failure was an auth/TLS refusal", [
    ["", status.authFailure ? 1 : 0],
  ]);
  metric("tern_mqtt_queue_messages", "gauge", "Messages in the persistent queue", [[
    "",
    status.queueDepth,
  ]]);
  metric("tern_mqtt_queue_bytes", "gauge", "Bytes in the persistent queue", [[
    "",
    status.queueBytes,
  ]]);
  metric("tern_mqtt_inflight", "gauge", "Unacknowledged messages on the wire", [[
    "",
    status.inflight,
  ]]);
  metric("tern_mqtt_messages_total", "counter", "Messages by event", [
    ['{event="sent"}', status.sent],
    ['{event="acked"}', status.acked],
    ['{event="received"}', status.received],
    ['{event="dropped"}', status.dropped],
    ['{event="dropped_offline"}', status.droppedOffline],
    ['{event="poison"}', status.poison],
  ]);
  return lines.join("\n") + "\n";
}
