/**
 * The "mqtt" service: builds an {@linkcode MqttClient} from `config.mqtt`,
 * with its queue in the agent's database (table `_mqtt_queue`), and keeps it
 * connected. Other services use `ctx.get<MqttService>("mqtt").client`.
 *
 * `start()` resolves once the client is running (not once connected: offline
 * is normal). `status()` feeds /api/status: connected, since, reconnects,
 * lastError, queueDepth, inflight, dropped, poison…
 *
 * `reload(config, changed)` (SIGHUP) applies the new `mqtt` section live;
 * a new broker, client id, certificate, credentials, session or will
 * reconnects cleanly (the queue keeps every queued and unacknowledged
 * message). `enabled`, `protocolVersion` and `responseTopic` change on
 * restart: each is logged as a warning. The PEM files are read again on
 * every reload, so a certificate renewed in place is picked up too. See
 * docs/mqtt-reload.md.
 */

import { resolve } from "../path.ts";
import type { DatabaseSync } from "node:sqlite";
import { checkPermissions, type Config } from "../config/mod.ts";
import { mqttBrokerUrl, type MqttConfig, mqttPermissions } from "../config/_mqtt.ts";
import type { IdentitySource, Service, ServiceContext, ServiceFactory } from "../service.ts";
import { ServiceConfigError, thingName } from "../service.ts";
import { MqttClient, type MqttClientOptions } from "./client.ts";
import { isAwsIotHost } from "./limits.ts";
import { mqttFamilies } from "./metrics.ts";
import { type MetricFamily, renderPrometheus } from "../metrics/mod.ts";

/** Inputs besides the config section. */
export interface FromConfigOptions {
  db: DatabaseSync;
  /** Device id (config or generated). */
  deviceId: string;
  /** Thing name. @default deviceId */
  thing?: string;
  /** Where relative cert/key/ca paths are resolved. */
  configDir: string;
  clock?: MqttClientOptions["clock"];
  log?: MqttClientOptions["log"];
}

/** The client options a `mqtt` config section describes (reads the PEM files). */
export async function clientOptionsFromConfig(
  mqtt: MqttConfig,
  options: FromConfigOptions,
): Promise<MqttClientOptions> {
  const url = mqttBrokerUrl(mqtt);
  if (!url) throw new TypeError('mqtt: set "url" or "endpoint"');
  const u = new URL(url);
  const read = async (key: "cert" | "key" | "ca") => {
    const p = mqtt[key];
    if (!p) return undefined;
    const file = resolve(options.configDir, p);
    try {
      return await Deno.readTextFile(file);
    } catch (e) {
      throw new Error(`Cannot read mqtt.${key} "${file}": ${(e as Error).message}`, { cause: e });
    }
  };
  const [cert, key, ca] = await Promise.all([read("cert"), read("key"), read("ca")]);
  const secure = u.protocol === "mqtts:" || u.protocol === "wss:";
  const alpn = mqtt.alpn ??
    (u.protocol === "mqtts:" && (u.port === "443" || (u.port === "" && mqtt.port === 443))
      ? ["x-amzn-mqtt-ca"]
      : undefined);
  const thing = options.thing ?? options.deviceId;
  const tls = secure || cert
    ? {
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
      ...(ca ? { ca } : {}),
      ...(mqtt.servername ? { servername: mqtt.servername } : {}),
      ...(alpn ? { alpn } : {}),
    }
    : undefined;
  const clientId = mqtt.clientId ?? thing;
  if (isAwsIotHost(u.hostname) && new TextEncoder().encode(clientId).length > 128) {
    throw new TypeError(
      `mqtt.clientId "${clientId.slice(0, 40)}…" is over the 128 bytes AWS IoT accepts`,
    );
  }
  return {
    url,
    clientId,
    db: options.db,
    vars: { thing, deviceId: options.deviceId },
    protocolVersion: mqtt.protocolVersion,
    keepalive: mqtt.keepalive,
    cleanSession: mqtt.cleanSession,
    ...(mqtt.sessionExpiry !== undefined ? { sessionExpiry: mqtt.sessionExpiry } : {}),
    connectTimeout: mqtt.connectTimeout,
    ...(tls ? { tls } : {}),
    ...(mqtt.username !== undefined ? { username: mqtt.username } : {}),
    ...(mqtt.password !== undefined ? { password: mqtt.password } : {}),
    ...(mqtt.will ? { will: mqtt.will } : {}),
    reconnect: mqtt.reconnect,
    schedule: mqtt.schedule,
    onDemand: mqtt.onDemand,
    topics: mqtt.topics,
    responseTopic: mqtt.responseTopic,
    requestTimeout: mqtt.requestTimeout,
    queue: mqtt.queue,
    limits: Object.fromEntries(Object.entries(mqtt.limits).filter(([, v]) => v !== undefined)),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.log ? { log: options.log } : {}),
  };
}

/** What the "database" service exposes (see lib/db/service.ts). */
interface _DatabaseService extends Service {
  db: { sql: DatabaseSync };
}

/** Keys of the `mqtt` section that change only on restart. */
export const MQTT_RESTART_KEYS = ["enabled", "protocolVersion", "responseTopic"] as const;

export class MqttService implements Service {
  readonly #ctx: ServiceContext;
  #client: MqttClient | undefined;
  /** The thing name at start: topics and the default client id keep it until restart. */
  #thing: string | undefined;
  /** Certificate and key from provisioning; they take the place of mqtt.cert / mqtt.key. */
  #identity: { certPem: string; keyPem: string } | undefined;

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
  }

  /**
   * The AWS IoT thing this connection is: the one provisioning registered,
   * else `device.thing`, else the device id. Services on MQTT (shadows,
   * jobs) use it, so a provisioned device needs no thing name in config.
   */
  get thing(): string {
    return this.#thing ?? thingName(this.#ctx.config, this.#ctx.deviceId);
  }

  /** The running client (throws before start). */
  get client(): MqttClient {
    if (!this.#client) throw new Error("The mqtt service is not running");
    return this.#client;
  }

  async start(_signal: AbortSignal): Promise<void> {
    const ctx = this.#ctx;
    this.#thing = ctx.config.device.thing;
    if (ctx.config.provision.enabled) {
      const id = ctx.get<IdentitySource>("provision").identity();
      if (id) {
        this.#identity = { certPem: id.certPem, keyPem: id.keyPem };
        this.#thing = id.thing;
      }
    }
    this.#client = new MqttClient(await this.#options(ctx.config)).start();
  }

  /**
   * Reconnect with another certificate and key (certificate rotation and its
   * roll back); the queue and subscriptions carry over.
   */
  async useIdentity(id: { certPem: string; keyPem: string }): Promise<void> {
    this.#identity = { certPem: id.certPem, keyPem: id.keyPem };
    this.#ctx.redactor.add(id.keyPem);
    if (this.#client) this.#client.reload(await this.#options(this.#ctx.config));
  }

  /**
   * Apply a reloaded config (SIGHUP); returns the `mqtt.*` paths applied. The
   * files are read and the options built before anything changes, so a bad
   * file, or a broker or file this process has no permission for (it would
   * leave the device offline until a restart), leaves the running settings
   * as they were: the error names the missing flags.
   */
  async reload(config: Config, changed: string[]): Promise<string[]> {
    const mine = changed.filter((p) => p.startsWith("mqtt."));
    const restart = mine.filter((p) =>
      MQTT_RESTART_KEYS.some((k) => p === `mqtt.${k}` || p.startsWith(`mqtt.${k}.`))
    );
    for (const p of restart) this.#ctx.log.warn(`${p} changes on restart`);
    if (!this.#client || !config.mqtt.enabled) return [];
    const needs = mqttPermissions(config.mqtt, this.#ctx);
    const missing = checkPermissions({ read: [], write: [], env: [], sys: [], net: [], ...needs });
    if (missing.length) {
      throw new Error(
        `The new mqtt settings need permissions this process lacks: ${
          missing.map((m) => m.flag).join(" ")
        } (keeping the running connection; restart with them, see "tern permissions")`,
      );
    }
    this.#client.reload(await this.#options(config));
    return mine.filter((p) => !restart.includes(p));
  }

  async #options(config: Config): Promise<MqttClientOptions> {
    const ctx = this.#ctx;
    const options = await clientOptionsFromConfig(config.mqtt, {
      db: ctx.get<_DatabaseService>("database").db.sql,
      deviceId: ctx.deviceId,
      ...(this.#thing ? { thing: this.#thing } : {}),
      // The context may not carry the config dir yet; relative paths then resolve from the working dir.
      configDir: ctx.configDir,
      clock: ctx.clock,
      log: ctx.log,
    });
    if (options.password) ctx.redactor.add(options.password);
    if (this.#identity) {
      options.tls = { ...options.tls, cert: this.#identity.certPem, key: this.#identity.keyPem };
    }
    return options;
  }

  status(): Record<string, unknown> {
    if (!this.#client) return { connected: false };
    return { ...this.#client.status() };
  }

  /** The connection and queue series for the agent's registry (none before start). */
  metricFamilies(): MetricFamily[] {
    return this.#client ? mqttFamilies(this.#client.status()) : [];
  }

  /** The same series as Prometheus text (empty before start). */
  prometheus(): string {
    return renderPrometheus(this.metricFamilies());
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.#client?.close();
    } catch (e) {
      this.#ctx.log.warn("Closing the MQTT client failed", { error: String(e) });
    }
  }
}

/** Factory for `lib/services.ts`. */
export const mqttService: ServiceFactory = {
  name: "mqtt",
  deps: ["database", "identity"], // identity: the provisioned certificate, when provisioning is on
  enabled: (config) => config.mqtt.enabled,
  create: (ctx) => new MqttService(ctx),
};

/**
 * The running MQTT service, for a service built on it (`feature` names it in
 * the error): a permanent configuration error when MQTT is off or not running.
 */
export function requireMqtt(ctx: ServiceContext, feature: string): MqttService {
  try {
    const m = ctx.get<MqttService>("mqtt");
    void m.client; // throws before the service started
    return m;
  } catch {
    throw new ServiceConfigError(
      `${feature} needs MQTT ("mqtt.enabled" and "mqtt.url" or "mqtt.endpoint")`,
    );
  }
}
