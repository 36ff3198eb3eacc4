/**
 * Incoming messages and the local subscription registry: one broker
 * subscription per filter, any number of local handlers per filter, wildcard
 * matching done locally so one message reaches every handler whose filter
 * matches it (overlapping filters included).
 */

import type { IPublishPacket } from "mqtt";
import type { Logger } from "../log/mod.ts";
import { topicMatches } from "./topic.ts";

const decoder = new TextDecoder();

/** A received message. */
export class MqttMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  /** MQTT 5 properties (response topic, correlation data, user properties…). */
  readonly properties: IPublishPacket["properties"];

  constructor(topic: string, payload: Uint8Array, packet?: Partial<IPublishPacket>) {
    this.topic = topic;
    this.payload = payload;
    this.qos = packet?.qos ?? 0;
    this.retain = packet?.retain ?? false;
    this.properties = packet?.properties;
  }

  /** The payload as UTF-8 text. */
  text(): string {
    return decoder.decode(this.payload);
  }

  /** The payload parsed as JSON (throws SyntaxError naming the topic when it is not). */
  json<T = unknown>(): T {
    try {
      return JSON.parse(this.text()) as T;
    } catch (e) {
      throw new SyntaxError(`Payload on "${this.topic}" is not JSON: ${(e as Error).message}`);
    }
  }
}

/** A local message handler; a throw or rejection is logged, never fatal. */
export type MessageHandler = (message: MqttMessage) => void | Promise<void>;

interface _Entry {
  qos: 0 | 1 | 2;
  handlers: Set<MessageHandler>;
}

export class Subscriptions {
  readonly #filters = new Map<string, _Entry>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Add a handler; true when the filter is new (needs a broker subscription). */
  add(filter: string, handler: MessageHandler, qos: 0 | 1 | 2): boolean {
    const entry = this.#filters.get(filter);
    if (entry) {
      entry.handlers.add(handler);
      return false;
    }
    this.#filters.set(filter, { qos, handlers: new Set([handler]) });
    return true;
  }

  /** Remove a handler; true when it was the filter's last (needs a broker unsubscribe). */
  remove(filter: string, handler: MessageHandler): boolean {
    const entry = this.#filters.get(filter);
    if (!entry || !entry.handlers.delete(handler)) return false;
    if (entry.handlers.size > 0) return false;
    this.#filters.delete(filter);
    return true;
  }

  /** Every filter with its QoS, for restoring after a reconnect. */
  all(): Record<string, { qos: 0 | 1 | 2 }> {
    const out: Record<string, { qos: 0 | 1 | 2 }> = {};
    for (const [f, e] of this.#filters) out[f] = { qos: e.qos };
    return out;
  }

  get size(): number {
    return this.#filters.size;
  }

  /** Call every handler whose filter matches; returns how many were called. */
  dispatch(message: MqttMessage): number {
    let n = 0;
    for (const [filter, entry] of this.#filters) {
      if (!topicMatches(filter, message.topic)) continue;
      for (const handler of entry.handlers) {
        n++;
        try {
          const r = handler(message);
          if (r instanceof Promise) r.catch((e) => this.#fail(filter, message, e));
        } catch (e) {
          this.#fail(filter, message, e);
        }
      }
    }
    return n;
  }

  #fail(filter: string, message: MqttMessage, e: unknown): void {
    this.#log.error(`Handler for "${filter}" failed on a message to "${message.topic}"`, {
      error: e instanceof Error ? e.message : String(e),
    });
  }
}
