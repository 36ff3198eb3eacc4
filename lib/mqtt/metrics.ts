/**
 * MQTT connection and queue state as metric families, for the agent's
 * registry (`MqttService.metricFamilies()`; `/metrics` and CloudWatch):
 *
 * - `tern_mqtt_connected` gauge (0/1; CloudWatch `MqttConnected`, None),
 *   `tern_mqtt_connected_since_seconds` gauge
 * - `tern_mqtt_reconnects_total`, `tern_mqtt_connect_attempts_total` counters
 *   (CloudWatch `MqttReconnects`, Count)
 * - `tern_mqtt_queue_messages` (CloudWatch `MqttQueueDepth`, Count),
 *   `tern_mqtt_queue_bytes`, `tern_mqtt_inflight` gauges
 * - `tern_mqtt_messages_total{event="sent|acked|received|dropped|dropped_offline|poison"}`
 *   counter (CloudWatch `MqttMessages`, Count, dimension Event: sent, received, dropped)
 * - `tern_mqtt_auth_failure` gauge (0/1)
 */

import { type MetricFamily, renderPrometheus } from "../metrics/mod.ts";
import type { MqttStatus } from "./client.ts";

/** The families of `status`. */
export function mqttFamilies(status: MqttStatus): MetricFamily[] {
  const one = (
    name: string,
    type: "gauge" | "counter",
    help: string,
    value: number,
    cloud?: MetricFamily["cloud"],
  ): MetricFamily => ({ name, type, help, series: [{ value }], ...(cloud ? { cloud } : {}) });
  const ev = (event: string, value: number) => ({ labels: { event }, value });
  return [
    one(
      "tern_mqtt_connected",
      "gauge",
      "1 while connected to the broker",
      status.connected ? 1 : 0,
      {
        name: "MqttConnected",
        unit: "None",
      },
    ),
    one(
      "tern_mqtt_connected_since_seconds",
      "gauge",
      "Unix time of the last connect or disconnect",
      Math.floor(status.since / 1000),
    ),
    one(
      "tern_mqtt_reconnects_total",
      "counter",
      "Successful connections after the first",
      status.reconnects,
      { name: "MqttReconnects", unit: "Count" },
    ),
    one("tern_mqtt_connect_attempts_total", "counter", "Connection attempts", status.attempts),
    one(
      "tern_mqtt_auth_failure",
      "gauge",
      "1 when the last failure was an auth/TLS refusal",
      status.authFailure ? 1 : 0,
    ),
    one(
      "tern_mqtt_queue_messages",
      "gauge",
      "Messages in the persistent queue",
      status.queueDepth,
      {
        name: "MqttQueueDepth",
        unit: "Count",
      },
    ),
    one("tern_mqtt_queue_bytes", "gauge", "Bytes in the persistent queue", status.queueBytes),
    one("tern_mqtt_inflight", "gauge", "Unacknowledged messages on the wire", status.inflight),
    {
      name: "tern_mqtt_messages_total",
      type: "counter",
      help: "Messages by event",
      cloud: {
        name: "MqttMessages",
        unit: "Count",
        include: (l) => l.event === "sent" || l.event === "received" || l.event === "dropped",
        dimensions: (l) => ({ Event: l.event! }),
      },
      series: [
        ev("sent", status.sent),
        ev("acked", status.acked),
        ev("received", status.received),
        ev("dropped", status.dropped),
        ev("dropped_offline", status.droppedOffline),
        ev("poison", status.poison),
      ],
    },
  ];
}

/** Render `status` in the Prometheus text exposition format. */
export function renderMqttMetrics(status: MqttStatus): string {
  return renderPrometheus(mqttFamilies(status));
}
