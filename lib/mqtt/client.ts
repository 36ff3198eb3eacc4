/**
 * The MQTT client of the agent: `publish` with wait modes over a persistent
 * queue, `subscribe` with local handlers, `request` / response with a
 * correlation id, on top of a {@linkcode Connection} that reconnects with
 * full-jitter backoff, honours connection windows and can connect on demand.
 *
 * ```ts
 * await using mqtt = new MqttClient({ url: "mqtt://127.0.0.1:1883", clientId: "pump-42",
 *   db: new DatabaseSync("state/tern.db"), vars: { thing: "pump-42", deviceId: "pump-42" } });
 * mqtt.start();
 * await mqtt.publish("dt/${thing}/telemetry", { temp: 21.5 }, { qos: 1, wait: "ack" });
 * ```
 *
 * Wait modes: "none" resolves once the message is committed to the queue
 * (QoS ≥ 1), "sent" once it was written to the socket, "ack" on PUBACK /
 * PUBCOMP. QoS 0 bypasses the queue when online; offline it is dropped
 * (status "dropped", counted) or queued, per `queue.qos0`.
 *
 * `reload(options)` applies new options live; see {@linkcode MqttClient.reload}.
 */

import type { DatabaseSync } from "node:sqlite";
import type { IClientOptions, MqttClient as RawClient } from "mqtt";
import { type Clock, systemClock } from "../clock.ts";
import { type Logger, nullLogger } from "../log/mod.ts";
import type { MqttWindow } from "../config/_mqtt.ts";
import { Connection, type ConnectionState, type ReconnectOptions } from "./connection.ts";
import { MqttError } from "./errors.ts";
import { checkLimits, type MqttLimits, resolveLimits } from "./limits.ts";
import { type MessageHandler, MqttMessage, Subscriptions } from "./message.ts";
import { MqttQueue } from "./queue.ts";
import { inWindow, msUntilChange } from "./schedule.ts";
import { Sender } from "./sender.ts";
import { checkFilter, checkTopicName, expandTopic, type TopicVars } from "./topic.ts";
import { Requests, type RequestsOptions } from "./request.ts";

/** What can be published: bytes, text, or a value sent as JSON. */
export type Payload =
  | Uint8Array
  | string
  | Record<string, unknown>
  | unknown[]
  | number
  | boolean
  | null;

/** Options of {@linkcode MqttClient}. */
export interface MqttClientOptions {
  /** Broker URL: mqtt://, mqtts://, ws://, wss://. */
  url: string;
  clientId: string;
  /** Database holding the queue table (WAL mode recommended). */
  db: DatabaseSync;
  /** Values for `${thing}` and `${deviceId}` in topics. */
  vars: TopicVars;
  /** 4 (3.1.1) or 5. @default 4 */
  protocolVersion?: 4 | 5;
  /** Keep-alive in seconds. @default 60 */
  keepalive?: number;
  /** @default true */
  cleanSession?: boolean;
  /** MQTT 5 session expiry interval in seconds. */
  sessionExpiry?: number;
  /** ms to wait for CONNACK. @default 30000 */
  connectTimeout?: number;
  /** TLS material as PEM text; `alpn` protocol names (AWS IoT on 443: ["x-amzn-mqtt-ca"]). */
  tls?: { cert?: string; key?: string; ca?: string; servername?: string; alpn?: string[] };
  username?: string;
  password?: string;
  will?: { topic: string; payload: string; qos: 0 | 1; retain: boolean };
  /** Backoff in ms. @default { min: 1000, max: 120000, authMin: 60000, authMax: 3600000 } */
  reconnect?: Partial<ReconnectOptions>;
  /** Connection windows (UTC). @default [] (always) */
  schedule?: MqttWindow[];
  /** Connect only when there is something to send. @default { enabled: false, idle: 30000 } */
  onDemand?: { enabled: boolean; idle: number };
  /** Named topic templates. @default {} */
  topics?: Record<string, string>;
  /** Response topic base template. @default "tern/${thing}/response" */
  responseTopic?: string;
  /** Default request timeout in ms. @default 10000 */
  requestTimeout?: number;
  queue?: {
    maxMessages?: number;
    maxBytes?: number;
    full?: "reject" | "dropOldest";
    qos0?: "drop" | "queue";
    inflight?: number;
    poisonStrikes?: number;
    /** @default "_mqtt_queue" */
    table?: string;
  };
  /** Overrides of the broker limits (defaults from the host: AWS IoT or plain MQTT). */
  limits?: Partial<MqttLimits>;
  clock?: Clock;
  log?: Logger;
  /** Random source for jitter. @default Math.random */
  random?: () => number;
}

/** Options of {@linkcode MqttClient.publish}. */
export interface PublishOptions {
  /** @default 1 */
  qos?: 0 | 1 | 2;
  /** @default false */
  retain?: boolean;
  /** @default "none" */
  wait?: "none" | "sent" | "ack";
  /** MQTT 5 publish properties (ignored on 3.1.1). */
  properties?: Record<string, unknown>;
  /** Stops waiting (the message stays queued). */
  signal?: AbortSignal;
}

/** How far a publish got when its promise resolved. */
export interface PublishResult {
  /** Queue id (QoS ≥ 1 or queued QoS 0). */
  id?: number;
  status: "queued" | "sent" | "acked" | "dropped";
}

/** A live subscription; dispose or call `unsubscribe()` to remove the handler. */
export interface Subscription extends AsyncDisposable {
  readonly filter: string;
  unsubscribe(): Promise<void>;
}

/** Status for /api/status and metrics. */
export interface MqttStatus extends ConnectionState {
  url: string;
  clientId: string;
  queueDepth: number;
  queueBytes: number;
  inflight: number;
  /** Dropped because the queue was full. */
  dropped: number;
  /** QoS 0 messages dropped while offline. */
  droppedOffline: number;
  /** Dropped as poison (over limits, refused, killing the connection). */
  poison: number;
  sent: number;
  acked: number;
  received: number;
}

interface _Tracker {
  /** What the caller waits for. */
  wait: "sent" | "ack";
  done: PromiseWithResolvers<void>;
}

const encoder = new TextEncoder();

/** Encode a payload: bytes as is, strings as UTF-8, anything else as JSON. */
export function encodePayload(payload: Payload): Uint8Array {
  if (payload instanceof Uint8Array) return payload;
  if (typeof payload === "string") return encoder.encode(payload);
  return encoder.encode(JSON.stringify(payload));
}

export class MqttClient implements AsyncDisposable {
  #o: MqttClientOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #queue: MqttQueue;
  readonly #sender: Sender;
  readonly #subs: Subscriptions;
  readonly #requests: Requests;
  readonly #requestOptions: RequestsOptions;
  readonly #conn: Connection;
  readonly #limits: MqttLimits;
  readonly #trackers = new Map<number, _Tracker>();
  #live: RawClient | undefined;
  #connectedWaiters: PromiseWithResolvers<void>[] = [];
  readonly #connectListeners = new Set<() => void>();
  #closed = false;
  #idleTimer: AbortController | undefined;
  #windowTimer: AbortController | undefined;
  #demand = 0;
  #droppedOffline = 0;
  #received = 0;

  constructor(options: MqttClientOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? nullLogger;
    const host = new URL(options.url).hostname;
    this.#limits = resolveLimits(host, options.limits);
    const q = options.queue ?? {};
    this.#queue = new MqttQueue(options.db, {
      ...(q.maxMessages !== undefined ? { maxMessages: q.maxMessages } : {}),
      ...(q.maxBytes !== undefined ? { maxBytes: q.maxBytes } : {}),
      ...(q.full !== undefined ? { full: q.full } : {}),
      ...(q.table !== undefined ? { table: q.table } : {}),
      now: () => this.#clock.now(),
      onDrop: (ids) => this.#onDrop(ids),
    });
    this.#sender = new Sender(this.#queue, {
      inflight: q.inflight ?? 100,
      poisonStrikes: q.poisonStrikes ?? 3,
      limits: this.#limits,
      clock: this.#clock,
      log: this.#log.child("queue"),
      onSent: (id) => {
        const t = this.#trackers.get(id);
        if (t?.wait !== "sent") return;
        this.#trackers.delete(id);
        t.done.resolve();
      },
      onAck: (id) => {
        const t = this.#trackers.get(id);
        if (!t) return;
        this.#trackers.delete(id);
        t.done.resolve();
      },
      onPoison: (id, e) => this.#settle(id, e),
      onIdle: () => this.#maybeIdle(),
    });
    this.#subs = new Subscriptions(this.#log);
    this.#requestOptions = {
      base: expandTopic(options.responseTopic ?? "tern/${thing}/response", options.vars),
      protocolVersion: options.protocolVersion ?? 4,
      clock: this.#clock,
      defaultTimeout: options.requestTimeout ?? 10_000,
      subscribe: (filter, handler) => this.subscribe(filter, handler, { qos: 1 }),
      publishDirect: (topic, payload, qos, properties) =>
        this.#publishDirect(topic, payload, qos, properties),
      waitConnected: (signal) => this.waitConnected(signal),
      demand: (delta) => this.#changeDemand(delta),
    };
    this.#requests = new Requests(this.#requestOptions);
    this.#conn = new Connection({
      url: options.url,
      client: this.#clientOptions(),
      reconnect: this.#reconnectOptions(),
      clock: this.#clock,
      log: this.#log,
      ...(options.random ? { random: options.random } : {}),
      wanted: () => this.#wanted(),
      onConnect: (c) => this.#onConnect(c),
      onClose: (voluntary) => this.#onClose(voluntary),
      onMessage: (topic, payload, packet) => {
        this.#received++;
        this.#subs.dispatch(new MqttMessage(topic, payload, packet));
      },
    });
  }

  /** Start connecting (returns at once; see `waitConnected`). */
  start(): this {
    this.#conn.start();
    return this;
  }

  get connected(): boolean {
    return this.#live !== undefined;
  }

  /** The effective broker limits. */
  get limits(): MqttLimits {
    return { ...this.#limits };
  }

  /** A named topic from config, expanded (`topic("telemetry")` → "dt/pump-42/telemetry"). */
  topic(name: string): string {
    const t = this.#o.topics?.[name];
    if (t === undefined) {
      const known = Object.keys(this.#o.topics ?? {});
      throw new TypeError(
        `Unknown topic "${name}" (configured: ${
          known.length ? known.map((k) => `"${k}"`).join(", ") : "none"
        })`,
      );
    }
    return expandTopic(t, this.#o.vars);
  }

  /** Connection and queue status. */
  status(): MqttStatus {
    return {
      ...this.#conn.state,
      url: this.#o.url,
      clientId: this.#o.clientId,
      queueDepth: this.#queue.count,
      queueBytes: this.#queue.bytes,
      inflight: this.#sender.inflight,
      dropped: this.#queue.dropped,
      droppedOffline: this.#droppedOffline,
      poison: this.#sender.stats.poison,
      sent: this.#sender.stats.sent,
      acked: this.#sender.stats.acked,
      received: this.#received,
    };
  }

  /** Publish; see the module doc for the wait modes. */
  async publish(
    topic: string,
    payload: Payload,
    options: PublishOptions = {},
  ): Promise<PublishResult> {
    if (this.#closed) throw new MqttError("CLOSED", "MQTT client is closed");
    const qos = options.qos ?? 1;
    const wait = options.wait ?? "none";
    const t = expandTopic(topic, this.#o.vars);
    checkTopicName(t);
    const bytes = encodePayload(payload);
    checkLimits(t, bytes.length, this.#limits);
    const retain = options.retain ?? false;
    const properties = this.#o.protocolVersion === 5 ? options.properties : undefined;
    if (qos === 0 && (this.#live || this.#o.queue?.qos0 !== "queue")) {
      if (!this.#live) {
        this.#droppedOffline++;
        return { status: "dropped" };
      }
      await this.#publishDirect(t, bytes, 0, properties, retain);
      return { status: "sent" };
    }
    let tracker: _Tracker | undefined;
    if (wait !== "none") {
      tracker = { wait, done: Promise.withResolvers() };
      // With a signal the caller may stop waiting: a later rejection must not go unhandled.
      if (options.signal) tracker.done.promise.catch(() => {});
    }
    let id = 0;
    await this.#queue.add(
      { topic: t, payload: bytes, qos, retain, ...(properties ? { properties } : {}) },
      (i) => {
        id = i;
        if (tracker) this.#trackers.set(i, tracker);
      },
    );
    this.#conn.wake();
    this.#sender.pump();
    if (!tracker) return { id, status: "queued" };
    await _abortable(tracker.done.promise, options.signal);
    return { id, status: wait === "sent" ? "sent" : "acked" };
  }

  /** Subscribe a local handler; one broker subscription per filter, restored after reconnects. */
  async subscribe(
    filter: string,
    handler: MessageHandler,
    options: { qos?: 0 | 1 | 2 } = {},
  ): Promise<Subscription> {
    if (this.#closed) throw new MqttError("CLOSED", "MQTT client is closed");
    const f = expandTopic(filter, this.#o.vars);
    checkFilter(f);
    const qos = options.qos ?? 1;
    if (this.#subs.add(f, handler, qos) && this.#live) {
      try {
        await _subscribe(this.#live, { [f]: { qos } });
      } catch (e) {
        this.#subs.remove(f, handler);
        throw e;
      }
    }
    let done = false;
    const unsubscribe = async () => {
      if (done) return;
      done = true;
      if (this.#subs.remove(f, handler) && this.#live) {
        await this.#live.unsubscribeAsync(f).catch(() => {});
      }
    };
    return { filter: f, unsubscribe, [Symbol.asyncDispose]: unsubscribe };
  }

  /**
   * Publish a request and resolve with the first response (on 3.1.1 the
   * payload must be a JSON object: `correlationId` and `responseTopic` are
   * added to it). Rejects with `MqttError("TIMEOUT")` after `timeout` ms.
   */
  request(
    topic: string,
    payload: Payload,
    options: { timeout?: number; qos?: 0 | 1; signal?: AbortSignal } = {},
  ): Promise<MqttMessage> {
    if (this.#closed) return Promise.reject(new MqttError("CLOSED", "MQTT client is closed"));
    const t = expandTopic(topic, this.#o.vars);
    checkTopicName(t);
    return this.#requests.request(t, payload, options);
  }

  /**
   * Be told after every (re)connect, once subscriptions are being restored
   * (a protocol layer re-reads its state then: shadows `get`). Returns the
   * function that removes the listener.
   */
  onConnected(fn: () => void): () => void {
    this.#connectListeners.add(fn);
    return () => this.#connectListeners.delete(fn);
  }

  /** Resolve once connected (also asks for a connection when on demand). */
  async waitConnected(signal?: AbortSignal): Promise<void> {
    if (this.#live) return;
    const w = Promise.withResolvers<void>();
    this.#connectedWaiters.push(w);
    this.#changeDemand(+1);
    try {
      await _abortable(w.promise, signal);
    } finally {
      this.#changeDemand(-1);
      this.#connectedWaiters = this.#connectedWaiters.filter((x) => x !== w);
    }
  }

  /** Disconnect (DISCONNECT sent, no will), stop; queued messages stay in the database. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#idleTimer?.abort();
    this.#windowTimer?.abort();
    await this.#conn.close();
    this.#sender.close();
    this.#queue.flush();
    this.#requests.close();
    const err = new MqttError(
      "CLOSED",
      "MQTT client closed before the message was acknowledged (it stays queued)",
    );
    for (const t of this.#trackers.values()) t.done.reject(err);
    this.#trackers.clear();
    for (const w of this.#connectedWaiters) {
      w.reject(new MqttError("CLOSED", "MQTT client is closed"));
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Apply new options (a config reload); returns true when it reconnects.
   *
   * - Live: `reconnect` backoff, `keepalive` and `connectTimeout` (from the
   *   next connect), `schedule`, `onDemand`, `topics`, `requestTimeout`,
   *   `queue` bounds and policies, `inflight`, `poisonStrikes`, `limits`.
   * - A new broker `url`, `clientId`, `tls` material, credentials,
   *   `cleanSession`, `sessionExpiry` or `will`: the connection is ended
   *   gracefully and made again at once with the new options. Queued and
   *   unacknowledged messages stay in the queue and go out on the new one.
   * - Kept until restart: `protocolVersion`, `responseTopic`, `vars`, `db`,
   *   `clock`, `log`, `random` and the queue table.
   */
  reload(next: MqttClientOptions): boolean {
    if (this.#closed) return false;
    const prev = this.#o;
    this.#o = {
      ...next,
      db: prev.db,
      vars: prev.vars,
      protocolVersion: prev.protocolVersion ?? 4,
      queue: { ...next.queue, ...(prev.queue?.table ? { table: prev.queue.table } : {}) },
    };
    if (prev.responseTopic !== undefined) this.#o.responseTopic = prev.responseTopic;
    const o = this.#o;
    const q = o.queue ?? {};
    this.#requestOptions.defaultTimeout = o.requestTimeout ?? 10_000;
    this.#queue.setBounds({
      maxMessages: q.maxMessages ?? 100_000,
      maxBytes: q.maxBytes ?? 64 * 1024 * 1024,
      full: q.full ?? "reject",
    });
    Object.assign(this.#limits, resolveLimits(new URL(o.url).hostname, o.limits));
    this.#sender.configure({ inflight: q.inflight ?? 100, poisonStrikes: q.poisonStrikes ?? 3 });
    this.#conn.configure({
      url: o.url,
      client: this.#clientOptions(),
      reconnect: this.#reconnectOptions(),
    });
    // Schedule and on demand: re-evaluate the current connection and the gate.
    this.#idleTimer?.abort();
    this.#idleTimer = undefined;
    const reconnect = _identity(prev) !== _identity(o);
    if (reconnect) {
      this.#log.info("Reconnecting with the new connection settings", {
        url: o.url,
        clientId: o.clientId,
      });
      this.#conn.reconnect();
    } else if (this.#live && !inWindow(o.schedule ?? [], this.#clock.now())) {
      this.#log.info("Outside the new connection windows: disconnecting");
      this.#conn.disconnect();
    } else if (this.#live) {
      this.#armWindow();
      this.#maybeIdle();
    }
    this.#conn.wake();
    return reconnect;
  }

  #reconnectOptions(): ReconnectOptions {
    const r = this.#o.reconnect;
    return {
      min: r?.min ?? 1_000,
      max: r?.max ?? 120_000,
      authMin: r?.authMin ?? 60_000,
      authMax: r?.authMax ?? 3_600_000,
    };
  }

  #clientOptions(): IClientOptions {
    const o = this.#o;
    const opts: IClientOptions = {
      clientId: o.clientId,
      protocolVersion: o.protocolVersion ?? 4,
      keepalive: o.keepalive ?? 60,
      clean: o.cleanSession ?? true,
      connectTimeout: o.connectTimeout ?? 30_000,
      queueQoSZero: false,
    };
    if (o.username !== undefined) opts.username = o.username;
    if (o.password !== undefined) opts.password = o.password;
    if (o.protocolVersion === 5 && o.sessionExpiry !== undefined) {
      opts.properties = { sessionExpiryInterval: o.sessionExpiry };
    }
    if (o.tls) {
      if (o.tls.cert) opts.cert = o.tls.cert;
      if (o.tls.key) opts.key = o.tls.key;
      if (o.tls.ca) opts.ca = o.tls.ca;
      if (o.tls.servername) opts.servername = o.tls.servername;
      if (o.tls.alpn?.length) opts.ALPNProtocols = o.tls.alpn;
      opts.rejectUnauthorized = true;
    }
    if (o.will) {
      opts.will = {
        topic: expandTopic(o.will.topic, o.vars),
        payload: encoder.encode(o.will.payload) as Buffer,
        qos: o.will.qos,
        retain: o.will.retain,
      };
    }
    return opts;
  }

  #wanted(): { ok: boolean; recheckIn?: number } {
    if (this.#closed) return { ok: false };
    const schedule = this.#o.schedule ?? [];
    const now = this.#clock.now();
    if (!inWindow(schedule, now)) return { ok: false, recheckIn: msUntilChange(schedule, now) };
    if (this.#o.onDemand?.enabled && this.#queue.count === 0 && this.#demand === 0) {
      return { ok: false };
    }
    return { ok: true };
  }

  #onConnect(c: RawClient): void {
    this.#live = c;
    const filters = this.#subs.all();
    if (Object.keys(filters).length > 0) {
      _subscribe(c, filters).catch((e) =>
        this.#log.error(`Restoring subscriptions failed: ${e.message}`)
      );
    }
    this.#sender.attach(c);
    for (const w of this.#connectedWaiters) w.resolve();
    this.#connectedWaiters = [];
    for (const fn of this.#connectListeners) {
      try {
        fn();
      } catch (e) {
        this.#log.error(`A connect listener failed: ${(e as Error).message}`);
      }
    }
    this.#armWindow();
    this.#maybeIdle();
  }

  /** While connected: disconnect when the current connection window ends. */
  #armWindow(): void {
    this.#windowTimer?.abort();
    const left = msUntilChange(this.#o.schedule ?? [], this.#clock.now());
    if (Number.isFinite(left)) {
      const ctl = new AbortController();
      this.#windowTimer = ctl;
      this.#clock.sleep(left, ctl.signal).then(() => {
        this.#log.info("Connection window closed: disconnecting");
        this.#conn.disconnect();
      }, () => {});
    }
  }

  #onClose(voluntary: boolean): void {
    this.#live = undefined;
    this.#windowTimer?.abort();
    this.#idleTimer?.abort();
    this.#sender.detach(voluntary);
  }

  #onDrop(ids: number[]): void {
    this.#sender.forget(ids);
    this.#log.warn(`MQTT queue full: dropped ${ids.length} oldest message(s)`, { first: ids[0] });
    for (const id of ids) {
      this.#settle(
        id,
        new MqttError("DROPPED", `Message ${id} was dropped to make room in the full queue`),
      );
    }
  }

  #settle(id: number, e: unknown): void {
    const t = this.#trackers.get(id);
    if (!t) return;
    this.#trackers.delete(id);
    t.done.reject(e);
  }

  #changeDemand(delta: number): void {
    this.#demand += delta;
    if (delta > 0) this.#conn.wake();
    else this.#maybeIdle();
  }

  /** On demand: disconnect after `idle` ms with nothing to send or wait for. */
  #maybeIdle(): void {
    const od = this.#o.onDemand;
    if (!od?.enabled || !this.#live) return;
    if (!this.#sender.idle || this.#demand > 0) {
      this.#idleTimer?.abort();
      this.#idleTimer = undefined;
      return;
    }
    if (this.#idleTimer) return;
    const ctl = new AbortController();
    this.#idleTimer = ctl;
    this.#clock.sleep(od.idle, ctl.signal).then(() => {
      this.#idleTimer = undefined;
      if (this.#sender.idle && this.#demand === 0 && this.#live) {
        this.#log.info("Idle: disconnecting until there is something to send");
        this.#conn.disconnect();
      }
    }, () => {});
  }

  #publishDirect(
    topic: string,
    payload: Uint8Array,
    qos: 0 | 1 | 2,
    properties?: Record<string, unknown>,
    retain = false,
  ): Promise<void> {
    const c = this.#live;
    if (!c) {
      return Promise.reject(new MqttError("CLOSED", `Not connected: cannot send to "${topic}"`));
    }
    return new Promise((resolve, reject) => {
      c.publish(
        topic,
        payload as Buffer,
        { qos, retain, ...(properties ? { properties } : {}) },
        (err) => {
          if (err) reject(err);
          else resolve();
        },
      );
    });
  }
}

/** What the broker sees of a client at CONNECT: a change needs a new connection. */
function _identity(o: MqttClientOptions): string {
  const { url, clientId, tls, username, password, cleanSession, sessionExpiry, will } = o;
  return JSON.stringify([
    url,
    clientId,
    tls,
    username,
    password,
    cleanSession,
    sessionExpiry,
    will,
  ]);
}

function _subscribe(c: RawClient, filters: Record<string, { qos: 0 | 1 | 2 }>): Promise<void> {
  return new Promise((resolve, reject) => {
    c.subscribe(filters, (err, granted) => {
      const refused = (granted ?? []).filter((g) =>
        g.qos === 128 || (g as { reasonCode?: number }).reasonCode! >= 0x80
      );
      if (err || refused.length) {
        const which = refused.map((g) => `"${g.topic}"`).join(", ");
        reject(
          new MqttError(
            "REJECTED",
            `Broker refused the subscription to ${which || Object.keys(filters).join(", ")}`,
            {
              cause: err ?? undefined,
            },
          ),
        );
      } else resolve();
    });
  });
}

function _abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
