/**
 * Broker limits checked before a message is queued or sent, so a device gets
 * a clear error instead of being disconnected by the broker. For an AWS IoT
 * Core endpoint (`*.amazonaws.com`) the defaults are IoT Core's: payload
 * 128 KB (131072 bytes), topic 256 bytes, 8 levels (7 slashes), 100
 * publishes per second per connection. For other brokers: MQTT's own maximum
 * (268435455 bytes per packet, 65535-byte topics), no level or rate limit.
 *
 * The publish rate is enforced by pacing (a token bucket on the sender), not
 * by rejecting: queued messages simply go out at the allowed rate.
 */

import type { Clock } from "../clock.ts";
import { MqttError } from "./errors.ts";
import { topicBytes } from "./topic.ts";

/** Effective limits (every field set). */
export interface MqttLimits {
  /** Payload bytes. */
  payload: number;
  /** Topic bytes (UTF-8). */
  topicLength: number;
  /** Topic levels (slashes + 1); Infinity for none. */
  topicLevels: number;
  /** Publishes per second; 0 is unlimited. */
  publishRate: number;
}

export const AWS_IOT_LIMITS: MqttLimits = {
  payload: 128 * 1024,
  topicLength: 256,
  topicLevels: 8,
  publishRate: 100,
};

export const MQTT_LIMITS: MqttLimits = {
  payload: 268_435_455 - 65_535 - 16,
  topicLength: 65_535,
  topicLevels: Infinity,
  publishRate: 0,
};

/** Whether `host` is an AWS IoT Core data endpoint. */
export function isAwsIotHost(host: string): boolean {
  return /\.iot\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/i.test(host);
}

/** The limits for a broker host, with configured values taking precedence. */
export function resolveLimits(host: string, configured: Partial<MqttLimits> = {}): MqttLimits {
  const base = isAwsIotHost(host) ? AWS_IOT_LIMITS : MQTT_LIMITS;
  const out = { ...base };
  for (const k of Object.keys(out) as (keyof MqttLimits)[]) {
    const v = configured[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** Throws `MqttError("LIMIT")` when the topic or payload exceeds `limits`. */
export function checkLimits(topic: string, payloadBytes: number, limits: MqttLimits): void {
  if (payloadBytes > limits.payload) {
    throw new MqttError(
      "LIMIT",
      `Payload of ${payloadBytes} bytes to "${topic}" exceeds the limit of ${limits.payload} bytes`,
    );
  }
  const bytes = topicBytes(topic);
  if (bytes > limits.topicLength) {
    throw new MqttError(
      "LIMIT",
      `Topic "${topic.slice(0, 64)}…" is ${bytes} bytes, over the limit of ${limits.topicLength}`,
    );
  }
  if (limits.topicLevels === Infinity) return;
  const levels = topic.split("/").length;
  if (levels > limits.topicLevels) {
    throw new MqttError(
      "LIMIT",
      `Topic "${topic}" has ${levels} levels, over the limit of ${limits.topicLevels} (${
        limits.topicLevels - 1
      } slashes)`,
    );
  }
}

/** A token bucket: `take()` resolves when one publish may go out. */
export class RateLimiter {
  readonly #rate: number;
  readonly #clock: Clock;
  #tokens: number;
  #last: number;

  /** @param rate publishes per second; 0 is unlimited */
  constructor(rate: number, clock: Clock) {
    this.#rate = rate;
    this.#clock = clock;
    this.#tokens = rate;
    this.#last = clock.now();
  }

  /** ms to wait before the next publish may go (0 when it may go now); takes the token when 0. */
  delay(): number {
    if (this.#rate <= 0) return 0;
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#rate, this.#tokens + ((now - this.#last) / 1000) * this.#rate);
    this.#last = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.#tokens) / this.#rate) * 1000);
  }
}
