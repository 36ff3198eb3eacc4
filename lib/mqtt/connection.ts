/**
 * One broker connection, kept up: connects with `npm:mqtt` (its own reconnect
 * turned off), and after every loss waits a full-jitter backoff
 * (`reconnect.min`…`reconnect.max`) before the next attempt, so a fleet never
 * reconnects in lock step. The backoff resets only after a connection stayed
 * up for a while (10 × min, at most 60 s), so a broker that accepts and then
 * drops the device is not hammered either.
 *
 * An authentication or authorization failure (CONNACK refused, TLS handshake
 * rejected, or the broker closing right after CONNECT as AWS IoT does when
 * the policy forbids iot:Connect) is logged once with what to check, and
 * retried slowly: `authMin` plus full jitter up to `authMax`.
 *
 * `wanted()` gates connecting (schedule windows, on-demand); `wake()`
 * re-evaluates it, `disconnect()` ends the current connection on purpose
 * (no backoff). `configure()` changes the URL, connect options and backoff
 * for the next attempt; `reconnect()` ends the current connection (or
 * backoff wait) so that the next attempt uses them now.
 */

import type { IClientOptions, IPublishPacket, MqttClient } from "mqtt";
import { Backoff } from "../backoff.ts";
import type { Clock } from "../clock.ts";
import { safeProcessEnv } from "../env.ts";
import type { Logger } from "../log/mod.ts";

// npm:mqtt's dependencies read and enumerate process.env as they load.
await safeProcessEnv();
const { default: mqtt } = await import("mqtt");

/** Backoff settings in ms. */
export interface ReconnectOptions {
  /** @default 1000 */
  min: number;
  /** @default 120000 */
  max: number;
  /** @default 60000 */
  authMin: number;
  /** @default 3600000 */
  authMax: number;
}

/** Whether to connect now, and when to ask again (ms) if not. */
export interface Wanted {
  ok: boolean;
  recheckIn?: number;
}

/** Options of {@linkcode Connection}. */
export interface ConnectionOptions {
  /** Broker URL (mqtt, mqtts, ws, wss). */
  url: string;
  /** Options for `mqtt.connect` (client id, TLS, will, keepalive…). */
  client: IClientOptions;
  reconnect: ReconnectOptions;
  clock: Clock;
  log: Logger;
  /** Random source for jitter. @default Math.random */
  random?: () => number;
  /** Gate for connecting. @default always */
  wanted?: () => Wanted;
  onConnect(client: MqttClient, sessionPresent: boolean): void;
  /** The connection that `onConnect` announced is gone; `voluntary` when ended on purpose. */
  onClose(voluntary: boolean): void;
  onMessage(topic: string, payload: Uint8Array, packet: IPublishPacket): void;
}

/** Connection state for status and metrics. */
export interface ConnectionState {
  connected: boolean;
  /** ms since epoch of the last change between connected and not. */
  since: number;
  /** Successful connections after the first. */
  reconnects: number;
  /** Connection attempts made. */
  attempts: number;
  lastError?: string;
  lastErrorAt?: number;
  /** ms since epoch of the next planned attempt. */
  nextAttemptAt?: number;
  /** The last failure was an authentication/authorization failure. */
  authFailure: boolean;
}

interface _Result {
  connected: boolean;
  lived: number;
  auth: boolean;
  voluntary: boolean;
}

const DAY = 86_400_000;
/** Longest wait for in-flight acks before a deliberate disconnect is forced, in ms. */
const GRACE_MS = 2_000;
const V3_REFUSED: Record<number, string> = {
  1: "unacceptable protocol version",
  2: "client id rejected",
  3: "server unavailable",
  4: "bad user name or password",
  5: "not authorized",
};
const AUTH_CODES = new Set([4, 5, 0x86, 0x87, 0x8a, 0x8c]);

export class Connection {
  #o: ConnectionOptions;
  readonly #life = new AbortController();
  #wake = new AbortController();
  #backoff: Backoff;
  #authBackoff: Backoff;
  #client: MqttClient | undefined;
  #voluntary = false;
  #everConnected = false;
  #silentCloses = 0;
  #gated = false;
  #grace: ReturnType<typeof setTimeout> | undefined;
  #loop: Promise<void> | undefined;
  readonly state: ConnectionState;

  constructor(options: ConnectionOptions) {
    this.#o = options;
    [this.#backoff, this.#authBackoff] = this.#backoffs(options);
    this.state = {
      connected: false,
      since: options.clock.now(),
      reconnects: 0,
      attempts: 0,
      authFailure: false,
    };
  }

  #backoffs(o: ConnectionOptions): [Backoff, Backoff] {
    const r = o.reconnect;
    return [
      new Backoff({ min: r.min, max: r.max, random: o.random }),
      new Backoff({ min: r.authMin, max: Math.max(1, r.authMax - r.authMin), random: o.random }),
    ];
  }

  /** The URL, connect options and backoff for the next attempt (the current connection stays). */
  configure(o: Pick<ConnectionOptions, "url" | "client" | "reconnect">): void {
    const r = this.#o.reconnect;
    this.#o = { ...this.#o, ...o };
    if (JSON.stringify(r) !== JSON.stringify(o.reconnect)) {
      [this.#backoff, this.#authBackoff] = this.#backoffs(this.#o);
    }
  }

  /** Connect again now: end the current connection gracefully, or cut a backoff wait short. */
  reconnect(): void {
    this.disconnect();
    const old = this.#wake;
    this.#wake = new AbortController();
    old.abort();
  }

  /** Start the connect loop (returns at once). */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Re-evaluate `wanted()` now (a message was queued, the schedule changed…). */
  wake(): void {
    if (!this.#gated) return; // cheap when nobody waits (called on every publish)
    const old = this.#wake;
    this.#wake = new AbortController();
    old.abort();
  }

  /** End the current connection on purpose (schedule end, idle); no backoff follows. */
  disconnect(): void {
    if (!this.#client) return;
    this.#voluntary = true;
    this.#endGracefully(this.#client);
  }

  /** Stop for good: close the connection (gracefully, with DISCONNECT) and the loop. */
  async close(): Promise<void> {
    this.#life.abort();
    if (this.#client) this.#endGracefully(this.#client);
    await this.#loop;
  }

  /**
   * DISCONNECT after the in-flight acks (npm:mqtt waits for them), but never
   * longer than GRACE_MS: a broker that stopped answering must not hold up a stop.
   */
  #endGracefully(c: MqttClient): void {
    if (this.#grace) return;
    this.#grace = setTimeout(() => {
      this.#grace = undefined;
      c.end(true);
      (c.stream as { destroy?: () => void } | undefined)?.destroy?.();
    }, GRACE_MS);
    c.end(false);
  }

  async #run(): Promise<void> {
    const life = this.#life.signal;
    const clock = this.#o.clock;
    while (!life.aborted) {
      const w = this.#o.wanted?.() ?? { ok: true };
      if (!w.ok) {
        const wait = Math.min(w.recheckIn ?? DAY, DAY);
        this.#gated = true;
        await clock.sleep(wait, AbortSignal.any([life, this.#wake.signal])).catch(() => {});
        this.#gated = false;
        continue;
      }
      const r = await this.#connectOnce();
      if (life.aborted) break;
      if (r.voluntary) continue;
      let delay: number;
      if (r.auth) {
        delay = this.#o.reconnect.authMin + this.#authBackoff.next();
      } else {
        const stable = Math.min(60_000, 10 * this.#o.reconnect.min);
        if (r.connected && r.lived >= stable) this.#backoff.reset();
        delay = this.#backoff.next();
      }
      this.state.nextAttemptAt = clock.now() + delay;
      this.#o.log.debug("Reconnecting later", { delayMs: delay, attempt: this.#backoff.attempt });
      await clock.sleep(delay, AbortSignal.any([life, this.#wake.signal])).catch(() => {});
    }
  }

  #connectOnce(): Promise<_Result> {
    const o = this.#o;
    const clock = o.clock;
    this.state.attempts++;
    this.#voluntary = false;
    return new Promise((resolve) => {
      let connectedAt: number | undefined;
      let error: unknown;
      let done = false;
      let c: MqttClient;
      try {
        c = mqtt.connect(o.url, { ...o.client, reconnectPeriod: 0, resubscribe: false });
      } catch (e) {
        // A bad URL or option: report it and retry slowly (the config will not fix itself).
        const message = `Cannot connect to ${o.url}: ${(e as Error).message}`;
        if (message !== this.state.lastError) o.log.error(message);
        Object.assign(this.state, {
          lastError: message,
          lastErrorAt: clock.now(),
          authFailure: false,
        });
        resolve({ connected: false, lived: 0, auth: true, voluntary: false });
        return;
      }
      this.#client = c;
      c.on("connect", (connack) => {
        // Small MQTT packets must not wait for Nagle + delayed ACK (40 ms per round trip).
        (c.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
        connectedAt = clock.now();
        if (this.#everConnected) this.state.reconnects++;
        this.#everConnected = true;
        this.#authBackoff.reset();
        Object.assign(this.state, { connected: true, since: connectedAt, authFailure: false });
        this.state.nextAttemptAt = undefined;
        o.log.info("Connected", {
          url: o.url,
          clientId: o.client.clientId,
          session: connack.sessionPresent,
        });
        o.onConnect(c, connack.sessionPresent);
      });
      c.on("message", (topic, payload, packet) => o.onMessage(topic, payload, packet));
      c.on("error", (e) => {
        error ??= e;
      });
      const finish = () => {
        if (done) return;
        done = true;
        if (this.#grace) {
          clearTimeout(this.#grace);
          this.#grace = undefined;
        }
        if (this.#client === c) this.#client = undefined;
        c.removeAllListeners("connect");
        c.removeAllListeners("message");
        c.removeAllListeners("close");
        c.removeAllListeners("end");
        c.end(true);
        const lived = connectedAt === undefined ? 0 : clock.now() - connectedAt;
        const voluntary = this.#voluntary || this.#life.signal.aborted;
        if (connectedAt !== undefined) {
          Object.assign(this.state, { connected: false, since: clock.now() });
          o.onClose(voluntary);
        }
        let auth = false;
        if (!voluntary) {
          const d = describeConnectError(error, o.url, connectedAt !== undefined);
          // A silent close once may be a broker shutting down; twice in a row is a refusal.
          this.#silentCloses = d.silent ? this.#silentCloses + 1 : 0;
          auth = d.auth && (!d.silent || this.#silentCloses >= 2);
          this.state.authFailure = auth;
          if (d.message !== this.state.lastError || auth) {
            (auth ? o.log.error : o.log.warn).call(o.log, d.message);
          }
          Object.assign(this.state, { lastError: d.message, lastErrorAt: clock.now() });
        }
        resolve({ connected: connectedAt !== undefined, lived, auth, voluntary });
      };
      c.on("close", finish);
      c.on("end", finish);
    });
  }
}

/** A clear message for a failed or lost connection, and whether it is an auth failure. */
export function describeConnectError(
  error: unknown,
  url: string,
  wasConnected: boolean,
): { message: string; auth: boolean; silent?: boolean } {
  const e = error as { code?: unknown; message?: string } | undefined;
  const msg = e?.message ?? "";
  const code = typeof e?.code === "number" ? e.code : undefined;
  if (code !== undefined && !wasConnected) {
    const reason = V3_REFUSED[code] ?? msg.replace(/^Connection refused: /, "");
    const auth = AUTH_CODES.has(code);
    return {
      message: `Broker ${url} refused the connection: ${reason} (code ${code})` +
        (auth ? "; check mqtt.clientId, credentials and the broker's policy for this client" : ""),
      auth,
    };
  }
  if (
    !wasConnected &&
    /certificate|tls|ssl|handshake|alert|x509|peer/i.test(msg + String(e?.code ?? ""))
  ) {
    const hint = /CertificateRequired/i.test(msg)
      ? "the broker requires a client certificate: set mqtt.cert and mqtt.key"
      : /alert/i.test(msg)
      ? "the broker rejected the client certificate: check mqtt.cert and mqtt.key and that the broker trusts their CA"
      : /invalid peer certificate|verify|self.signed|UnknownIssuer|NotValidForName|expired/i.test(
          msg,
        )
      ? "the broker's certificate is not trusted: check mqtt.ca and the host name"
      : "check mqtt.cert, mqtt.key and mqtt.ca";
    return { message: `TLS handshake with ${url} failed: ${msg} (${hint})`, auth: true };
  }
  if (error === undefined && !wasConnected) {
    return {
      message:
        `Broker ${url} closed the connection before CONNACK (a rejected client certificate, ` +
        `or on AWS IoT a policy without iot:Connect for this client id)`,
      auth: true,
      silent: true,
    };
  }
  if (wasConnected) {
    return { message: `Connection to ${url} lost${msg ? `: ${msg}` : ""}`, auth: false };
  }
  return { message: `Cannot connect to ${url}: ${msg || String(error)}`, auth: false };
}
