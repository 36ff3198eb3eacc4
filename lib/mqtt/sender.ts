/**
 * Drains the persistent queue onto a live connection, in id order, with at
 * most `inflight` unacknowledged messages on the wire and at most
 * `publishRate` publishes per second. A message leaves the queue only on its
 * PUBACK/PUBCOMP (QoS 0: once written).
 *
 * Poison messages never block the queue:
 * - over the limits (payload, topic) when sent: dropped, counted, logged;
 * - refused by the broker with an MQTT 5 reason code ≥ 0x80: dropped;
 * - a message that makes the broker drop the connection (AWS IoT does this on
 *   a publish its policy forbids, MQTT 3.1.1): after it was in flight on two
 *   dead connections it is sent alone; when the connection dies within 5 s of
 *   sending it alone `poisonStrikes` times, it is dropped.
 */

import type { MqttClient } from "mqtt";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log/mod.ts";
import { MqttError } from "./errors.ts";
import { checkLimits, type MqttLimits, RateLimiter } from "./limits.ts";
import { messageBytes, type MqttQueue, type QueuedMessage } from "./queue.ts";

/** Options of {@linkcode Sender}. */
export interface SenderOptions {
  /** Unacknowledged messages on the wire. @default 100 */
  inflight?: number;
  /** Solo connection deaths before a message is dropped as poison. @default 3 */
  poisonStrikes?: number;
  limits: MqttLimits;
  clock: Clock;
  log: Logger;
  /** The message was handed to the socket. */
  onSent(id: number): void;
  /** The broker acknowledged it (it is deleted). */
  onAck(id: number): void;
  /** It was dropped as poison (it is deleted). */
  onPoison(id: number, error: MqttError): void;
  /** Nothing left queued or in flight. */
  onIdle?(): void;
}

interface _Flight {
  msg: QueuedMessage;
  size: number;
  sentAt: number;
}

const SUSPECT_AFTER = 2;
const STRIKE_WINDOW = 5_000;
const READ_AHEAD = 256;

export class Sender {
  readonly #q: MqttQueue;
  readonly #o: SenderOptions;
  #window: number;
  #client: MqttClient | undefined;
  #gen = 0;
  #cursor = 0;
  #buffer: QueuedMessage[] = [];
  #inflight = new Map<number, _Flight>();
  #rate: RateLimiter;
  #pumping = false;
  #rateTimer: AbortController | undefined;
  /** Counters since start. */
  readonly stats = { sent: 0, acked: 0, poison: 0 };

  constructor(queue: MqttQueue, options: SenderOptions) {
    this.#q = queue;
    this.#o = options;
    this.#window = options.inflight ?? 100;
    this.#rate = new RateLimiter(options.limits.publishRate, options.clock);
  }

  /**
   * Change the window, the poison strikes and the publish rate (config reload);
   * `limits` (shared with the client) is read on every send.
   */
  configure(o: { inflight?: number; poisonStrikes?: number }): void {
    if (o.inflight !== undefined) this.#window = o.inflight;
    if (o.poisonStrikes !== undefined) this.#o.poisonStrikes = o.poisonStrikes;
    this.#rate = new RateLimiter(this.#o.limits.publishRate, this.#o.clock);
    this.pump();
  }

  /** Unacknowledged messages on the wire. */
  get inflight(): number {
    return this.#inflight.size;
  }

  /** Whether nothing is queued or in flight. */
  get idle(): boolean {
    return this.#q.count === 0 && this.#inflight.size === 0;
  }

  /** A connection is up: start sending from the head of the queue. */
  attach(client: MqttClient): void {
    this.#client = client;
    this.#gen++;
    this.#cursor = 0;
    this.#buffer = [];
    this.#inflight.clear();
    this.#q.rewind();
    this.pump();
  }

  /**
   * The connection is gone: count the attempt of what was in flight. A
   * `voluntary` close (reload, schedule end, idle, stop) strikes no message.
   */
  detach(voluntary = false): void {
    this.#client = undefined;
    this.#gen++;
    this.#rateTimer?.abort();
    const flights = [...this.#inflight.values()];
    this.#inflight.clear();
    this.#buffer = [];
    this.#cursor = 0;
    if (flights.length === 0) return;
    this.#q.attempted(flights.map((f) => f.msg.id));
    const only = flights[0]!;
    if (
      !voluntary && flights.length === 1 && this.#o.clock.now() - only.sentAt <= STRIKE_WINDOW
    ) {
      if (only.msg.strikes + 1 >= (this.#o.poisonStrikes ?? 3)) {
        this.#poison(
          only,
          new MqttError(
            "REJECTED",
            `Message ${only.msg.id} to "${only.msg.topic}" was dropped: the broker closed the connection ` +
              `each time it was sent (${
                only.msg.strikes + 1
              } times; on AWS IoT: not allowed by the policy)`,
          ),
        );
      } else {
        this.#q.strike(only.msg.id);
      }
    }
  }

  /** Messages dropped from the queue to make room: forget them. */
  forget(ids: number[]): void {
    const set = new Set(ids);
    this.#buffer = this.#buffer.filter((m) => !set.has(m.id));
    for (const id of ids) this.#inflight.delete(id);
  }

  /** Send what the window and the rate allow. Cheap to call often. */
  pump(): void {
    if (this.#pumping || !this.#client) return;
    this.#pumping = true;
    // One socket write for the whole batch instead of one per message.
    const stream = this.#client.stream as { cork?: () => void; uncork?: () => void } | undefined;
    stream?.cork?.();
    try {
      while (this.#client && this.#inflight.size < this.#window) {
        if (this.#buffer.length === 0) {
          this.#buffer = this.#q.peek(this.#cursor, READ_AHEAD);
          if (this.#buffer.length === 0) break;
        }
        const m = this.#buffer[0]!;
        // A suspect goes alone, and nothing goes with it.
        if (m.attempts >= SUSPECT_AFTER && this.#inflight.size > 0) break;
        if (this.#inflight.size === 1 && this.#soloSuspect()) break;
        const wait = this.#rate.delay();
        if (wait > 0) {
          this.#later(wait);
          break;
        }
        this.#buffer.shift();
        this.#cursor = m.id;
        this.#send(m);
      }
    } finally {
      this.#pumping = false;
      stream?.uncork?.();
    }
    if (this.idle) this.#o.onIdle?.();
  }

  #soloSuspect(): boolean {
    const first = this.#inflight.values().next().value;
    return first !== undefined && first.msg.attempts >= SUSPECT_AFTER;
  }

  #send(m: QueuedMessage): void {
    const flight: _Flight = {
      msg: m,
      size: messageBytes(m.topic, m.payload),
      sentAt: this.#o.clock.now(),
    };
    try {
      checkLimits(m.topic, m.payload.length, this.#o.limits);
    } catch (e) {
      this.#poison(flight, e as MqttError);
      return;
    }
    const gen = this.#gen;
    const client = this.#client!;
    this.#inflight.set(m.id, flight);
    this.stats.sent++;
    const opts = {
      qos: m.qos,
      retain: m.retain,
      dup: m.attempts > 0,
      ...(m.properties ? { properties: m.properties } : {}),
      cbStorePut: () => this.#o.onSent(m.id),
    };
    client.publish(m.topic, m.payload as Buffer, opts, (err) => {
      if (gen !== this.#gen || !this.#inflight.has(m.id)) return;
      if (m.qos === 0) this.#o.onSent(m.id);
      const code = (err as { code?: unknown } | undefined)?.code;
      if (err && typeof code === "number" && code >= 0x80) {
        this.#inflight.delete(m.id);
        this.#poison(
          flight,
          new MqttError(
            "REJECTED",
            `Broker refused message ${m.id} to "${m.topic}": ${err.message} (code ${code})`,
          ),
        );
        this.pump();
        return;
      }
      if (err) return; // connection closing: it stays queued and goes again
      this.#inflight.delete(m.id);
      this.#q.remove(m.id, flight.size);
      this.stats.acked++;
      this.#o.onAck(m.id);
      // Refill at half the window: one write for many messages, not one per ack.
      if (this.#inflight.size <= this.#window >> 1) this.pump();
    });
  }

  #poison(f: _Flight, error: MqttError): void {
    this.#inflight.delete(f.msg.id);
    this.#q.remove(f.msg.id, f.size);
    this.stats.poison++;
    this.#o.log.error(error.message, {
      id: f.msg.id,
      topic: f.msg.topic,
      bytes: f.msg.payload.length,
    });
    this.#o.onPoison(f.msg.id, error);
  }

  #later(ms: number): void {
    if (this.#rateTimer && !this.#rateTimer.signal.aborted) return;
    const ctl = new AbortController();
    this.#rateTimer = ctl;
    this.#o.clock.sleep(ms, ctl.signal).then(() => {
      this.#rateTimer = undefined;
      this.pump();
    }, () => {});
  }

  /** Stop timers. */
  close(): void {
    this.#rateTimer?.abort();
    this.#client = undefined;
    this.#gen++;
  }
}
