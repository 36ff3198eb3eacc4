/**
 * Request / response over MQTT. Each request gets a correlation id (a UUID)
 * and its own response topic `<base>/<id>` under the device's namespace
 * (`responseTopic`, default "tern/${thing}/response"); one wildcard
 * subscription `<base>/+` serves them all. On MQTT 5 the request carries the
 * standard `responseTopic` and `correlationData` properties; on 3.1.1 the
 * payload must be a JSON object and gets `correlationId` and `responseTopic`
 * fields. A responder publishes its answer to that topic. A request that gets
 * no response within `timeout` ms rejects with `MqttError("TIMEOUT")`.
 */

import type { Clock } from "../clock.ts";
import { MqttError } from "./errors.ts";
import type { MessageHandler, MqttMessage } from "./message.ts";

/** What {@linkcode Requests} needs from the client. */
export interface RequestsOptions {
  /** Response topic base (expanded). */
  base: string;
  protocolVersion: 4 | 5;
  clock: Clock;
  /** ms. */
  defaultTimeout: number;
  subscribe(filter: string, handler: MessageHandler): Promise<unknown>;
  publishDirect(
    topic: string,
    payload: Uint8Array,
    qos: 0 | 1,
    properties?: Record<string, unknown>,
  ): Promise<void>;
  waitConnected(signal: AbortSignal): Promise<void>;
  /** +1 while a request wants a connection, -1 after. */
  demand(delta: number): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class Requests {
  readonly #o: RequestsOptions;
  readonly #pending = new Map<string, PromiseWithResolvers<MqttMessage>>();
  #subscribed: Promise<unknown> | undefined;
  readonly #life = new AbortController();

  constructor(options: RequestsOptions) {
    this.#o = options;
  }

  /** Requests waiting for a response. */
  get pending(): number {
    return this.#pending.size;
  }

  async request(
    topic: string,
    payload: unknown,
    options: { timeout?: number; qos?: 0 | 1; signal?: AbortSignal } = {},
  ): Promise<MqttMessage> {
    const timeout = options.timeout ?? this.#o.defaultTimeout;
    const id = crypto.randomUUID();
    const responseTopic = `${this.#o.base}/${id}`;
    let body: Uint8Array;
    let properties: Record<string, unknown> | undefined;
    if (this.#o.protocolVersion === 5) {
      body = payload instanceof Uint8Array
        ? payload
        : encoder.encode(typeof payload === "string" ? payload : JSON.stringify(payload));
      properties = { responseTopic, correlationData: encoder.encode(id) };
    } else {
      if (
        payload === null || typeof payload !== "object" || Array.isArray(payload) ||
        payload instanceof Uint8Array
      ) {
        throw new TypeError(
          `Request payload to "${topic}" must be a JSON object on MQTT 3.1.1 (correlationId and responseTopic are added to it)`,
        );
      }
      body = encoder.encode(JSON.stringify({ ...payload, correlationId: id, responseTopic }));
    }
    const timer = new AbortController();
    const deadline = AbortSignal.any([
      timer.signal,
      this.#life.signal,
      ...(options.signal ? [options.signal] : []),
    ]);
    const timedOut = this.#o.clock.sleep(timeout, deadline).then(() => true, () => false);
    const w = Promise.withResolvers<MqttMessage>();
    this.#pending.set(id, w);
    this.#o.demand(+1);
    const expire = new AbortController();
    timedOut.then((hit) => hit && expire.abort());
    const signal = AbortSignal.any([expire.signal, deadline]);
    try {
      const work = (async () => {
        this.#subscribed ??= this.#o.subscribe(`${this.#o.base}/+`, (m) => this.#onResponse(m))
          .catch((e) => {
            this.#subscribed = undefined;
            throw e;
          });
        await this.#o.waitConnected(signal);
        await this.#subscribed;
        await this.#o.publishDirect(topic, body, options.qos ?? 1, properties);
        return await w.promise;
      })();
      work.catch(() => {});
      return await new Promise<MqttMessage>((resolve, reject) => {
        const onAbort = () => {
          if (expire.signal.aborted) {
            reject(
              new MqttError(
                "TIMEOUT",
                `Request to "${topic}" got no response within ${timeout} ms`,
              ),
            );
          } else if (this.#life.signal.aborted) {
            reject(new MqttError("CLOSED", `MQTT client closed before "${topic}" responded`));
          } else reject(options.signal?.reason);
        };
        if (signal.aborted) onAbort();
        signal.addEventListener("abort", onAbort, { once: true });
        work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
      });
    } finally {
      timer.abort();
      this.#pending.delete(id);
      this.#o.demand(-1);
    }
  }

  #onResponse(m: MqttMessage): void {
    const cd = m.properties?.correlationData;
    const id = cd ? decoder.decode(cd) : m.topic.slice(m.topic.lastIndexOf("/") + 1);
    this.#pending.get(id)?.resolve(m);
  }

  close(): void {
    this.#life.abort();
  }
}
