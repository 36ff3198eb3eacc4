/**
 * MQTT front door: the client (publish with wait modes over a persistent
 * queue, subscribe, request/response), the "mqtt" service, topic helpers,
 * limits and `MqttError`. See docs/mqtt.md.
 */

export {
  encodePayload,
  MqttClient,
  type MqttClientOptions,
  type MqttStatus,
  type Payload,
  type PublishOptions,
  type PublishResult,
  type Subscription,
} from "./client.ts";
export { type ConnectionState, describeConnectError, type ReconnectOptions } from "./connection.ts";
export { MqttError, type MqttErrorCode } from "./errors.ts";
export {
  AWS_IOT_LIMITS,
  isAwsIotHost,
  MQTT_LIMITS,
  type MqttLimits,
  resolveLimits,
} from "./limits.ts";
export { type MessageHandler, MqttMessage } from "./message.ts";
export { mqttFamilies, renderMqttMetrics } from "./metrics.ts";
export { MqttQueue, type MqttQueueOptions, type QueuedMessage } from "./queue.ts";
export { inWindow, msUntilChange } from "./schedule.ts";
export {
  clientOptionsFromConfig,
  type FromConfigOptions,
  MqttService,
  mqttService,
  requireMqtt,
} from "./service.ts";
export { checkFilter, checkTopicName, expandTopic, topicMatches, type TopicVars } from "./topic.ts";
