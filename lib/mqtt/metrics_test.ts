import { equal, match } from "node:assert/strict";
import { renderMqttMetrics } from "./metrics.ts";

Deno.test("renderMqttMetrics gives Prometheus text with connection and queue state", () => {
  const text = renderMqttMetrics({
    connected: true,
    since: 1_700_000_000_123,
    reconnects: 2,
    attempts: 5,
    authFailure: false,
    url: "mqtt://x:1883",
    clientId: "c",
    queueDepth: 7,
    queueBytes: 700,
    inflight: 3,
    dropped: 1,
    droppedOffline: 4,
    poison: 0,
    sent: 10,
    acked: 9,
    received: 6,
  });
  match(text, /^# HELP tern_mqtt_connected /m);
  match(text, /^tern_mqtt_connected 1$/m);
  match(text, /^tern_mqtt_connected_since_seconds 1700000000$/m);
  match(text, /^tern_mqtt_reconnects_total 2$/m);
  match(text, /^tern_mqtt_queue_messages 7$/m);
  match(text, /^tern_mqtt_messages_total\{event="dropped_offline"\} 4$/m);
  equal(text.endsWith("\n"), true);
});
