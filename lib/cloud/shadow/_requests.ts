/**
 * Shadow request / reply over MQTT, shared by every shadow of one
 * connection: each request carries a `clientToken` (`<8 hex of this
 * process>-<counter>`, at most 64 bytes), is published at QoS 1, and is
 * answered by the service on `OP/accepted` or `OP/rejected` with the same
 * token. At most 10 requests are in flight per connection (AWS's limit);
 * more wait their turn. No reply within `timeout` ms is a retryable
 * `ShadowError("TIMEOUT")`.
 *
 * A token this process issued is recognised (`ours()`), so the device's own
 * echoes on `update/documents` are known as such.
 */

import type { Clock } from "../../clock.ts";
import type { MqttClient } from "../../mqtt/mod.ts";
import { SHADOW_LIMITS } from "./limits.ts";

/** Why a shadow request failed; `status` is the service's code (0 for local causes). */
export class ShadowError extends Error {
  override name = "ShadowError";
  readonly status: number;
  constructor(status: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
  }
  /** Worth retrying later (throttled, service error, timeout, offline). */
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

/** A reply: accepted or rejected, with its JSON payload. */
export interface Reply {
  accepted: boolean;
  payload: Record<string, unknown>;
}

interface _Pending {
  resolve(r: Reply): void;
}

export class ShadowRequests {
  readonly #mqtt: MqttClient;
  readonly #clock: Clock;
  readonly #timeout: () => number;
  readonly #prefix = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(16).padStart(8, "0");
  readonly #pending = new Map<string, _Pending>();
  readonly #waiting: (() => void)[] = [];
  #counter = 0;
  #inflight = 0;
  /** Highest number of requests in flight seen (status, tests). */
  peak = 0;

  constructor(options: { mqtt: MqttClient; clock: Clock; timeout: () => number }) {
    this.#mqtt = options.mqtt;
    this.#clock = options.clock;
    this.#timeout = options.timeout;
  }

  get inflight(): number {
    return this.#inflight;
  }

  /** Whether `token` was issued by this process. */
  ours(token: unknown): boolean {
    return typeof token === "string" && token.startsWith(this.#prefix + "-");
  }

  /** Deliver a reply; true when it answered a pending request. */
  offer(token: unknown, reply: Reply): boolean {
    if (typeof token !== "string") return false;
    const p = this.#pending.get(token);
    if (!p) return false;
    this.#pending.delete(token);
    p.resolve(reply);
    return true;
  }

  /** Publish `body` (a clientToken is added) to `topic` and wait for its reply. */
  async request(
    topic: string,
    body: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<Reply> {
    await this.#acquire(signal);
    const token = `${this.#prefix}-${++this.#counter}`;
    if (token.length > SHADOW_LIMITS.clientToken) throw new Error("clientToken too long");
    const w = Promise.withResolvers<Reply>();
    this.#pending.set(token, { resolve: w.resolve });
    const stop = new AbortController();
    const timeout = this.#timeout();
    try {
      await this.#mqtt.publish(topic, { ...body, clientToken: token }, { qos: 1 });
      const timer = this.#clock.sleep(
        timeout,
        AbortSignal.any([stop.signal, ...(signal ? [signal] : [])]),
      ).then(
        () => {
          throw new ShadowError(0, `No reply to "${topic}" within ${timeout} ms`);
        },
        () => {
          throw signal?.reason ?? new ShadowError(0, "Stopped");
        },
      );
      timer.catch(() => {});
      return await Promise.race([w.promise, timer]);
    } finally {
      stop.abort();
      this.#pending.delete(token);
      this.#release();
    }
  }

  async #acquire(signal?: AbortSignal): Promise<void> {
    while (this.#inflight >= SHADOW_LIMITS.inflight) {
      signal?.throwIfAborted();
      await new Promise<void>((r) => this.#waiting.push(r));
    }
    this.#inflight++;
    if (this.#inflight > this.peak) this.peak = this.#inflight;
  }

  #release(): void {
    this.#inflight--;
    this.#waiting.shift()?.();
  }

  /** Wake every waiter (on stop). */
  close(): void {
    for (const w of this.#waiting.splice(0)) w();
  }
}

/** The error a rejected reply (`{ code, message }`) stands for. */
export function rejection(op: string, payload: Record<string, unknown>): ShadowError {
  const code = Number(payload.code) || 500;
  const message = typeof payload.message === "string" ? payload.message : "no message";
  return new ShadowError(code, `${op} rejected with ${code}: ${message}`);
}
