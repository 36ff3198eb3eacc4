/**
 * The one error class of the MQTT client. `code` says which condition it is,
 * so callers can catch the ones they handle:
 *
 * - `QUEUE_FULL`: the persistent queue is at its count or byte limit (policy "reject")
 * - `LIMIT`: payload or topic exceeds a broker limit (AWS IoT: 128 KB, 256 bytes, 8 levels)
 * - `DROPPED`: a queued message was dropped (queue full with "dropOldest", or poison)
 * - `REJECTED`: the broker refused a message or subscription (MQTT 5 reason code, SUBACK 0x80)
 * - `TIMEOUT`: a request got no response in time
 * - `AUTH`: the broker refused the credentials or certificate
 * - `CLOSED`: the client was closed
 */

export type MqttErrorCode =
  | "QUEUE_FULL"
  | "LIMIT"
  | "DROPPED"
  | "REJECTED"
  | "TIMEOUT"
  | "AUTH"
  | "CLOSED";

export class MqttError extends Error {
  override readonly name = "MqttError";
  readonly code: MqttErrorCode;

  constructor(code: MqttErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
