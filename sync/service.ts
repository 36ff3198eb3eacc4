/**
 * The "sync" service: builds the DynamoDB client (credentials from the
 * agent's chain), the {@linkcode SyncEngine} over the "database" service's
 * database, subscribes to the MQTT sync topic when the "mqtt" service runs,
 * and starts the engine's loops. `status()` feeds /api/status and metrics.
 */

import { type ConfiguredCredentials, credentialsFromConfig } from "../lib/aws/mod.ts";
import type { Database } from "../lib/db/mod.ts";
import type { Service, ServiceContext, ServiceFactory } from "../lib/service.ts";
import { createDynamoClient } from "./client.ts";
import type { DynamoDb } from "./dynamodb.ts";
import { SyncEngine } from "./engine.ts";

interface _DatabaseService extends Service {
  db: Database;
}

interface _MqttService extends Service {
  client: {
    subscribe(
      filter: string,
      handler: () => void,
      options?: { qos?: 0 | 1 | 2 },
    ): Promise<{ unsubscribe(): Promise<void> }>;
  };
}

export class SyncService implements Service {
  readonly #ctx: ServiceContext;
  #creds: ConfiguredCredentials | undefined;
  #ddb: DynamoDb | undefined;
  #engine: SyncEngine | undefined;
  #subscription: { unsubscribe(): Promise<void> } | undefined;
  #stop = new AbortController();

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
  }

  /** The running engine (throws before start). */
  get engine(): SyncEngine {
    if (!this.#engine) throw new Error("The sync service is not running");
    return this.#engine;
  }

  async start(_signal: AbortSignal): Promise<void> {
    const ctx = this.#ctx;
    const config = ctx.config;
    const db = ctx.get<_DatabaseService>("database").db;
    const configDir = ctx.configDir;
    this.#creds = await credentialsFromConfig(config, {
      configDir,
      deviceId: ctx.deviceId,
      onSecret: (s) => ctx.redactor.add(s),
      clock: ctx.clock,
      logger: ctx.log,
      signal: this.#stop.signal,
    });
    this.#ddb = createDynamoClient({
      sync: config.sync,
      ...(config.aws.region ? { awsRegion: config.aws.region } : {}),
      credentials: this.#creds.provider,
      clock: ctx.clock,
    });
    this.#engine = new SyncEngine({
      db,
      ddb: this.#ddb,
      deviceId: ctx.deviceId,
      config: config.sync,
      clock: ctx.clock,
      log: ctx.log,
    });
    if (config.mqtt.enabled && config.sync.topic !== "") {
      try {
        const mqtt = ctx.get<_MqttService>("mqtt");
        const engine = this.#engine;
        this.#subscription = await mqtt.client.subscribe(config.sync.topic, () => engine.nudge(), {
          qos: 1,
        });
      } catch (e) {
        ctx.log.warn("Sync runs on its interval only: subscribing to the sync topic failed", {
          error: String(e),
        });
      }
    }
    this.#engine.start();
    ctx.log.info("Sync started", { models: this.#engine.models.map((m) => m.name) });
  }

  status(): Record<string, unknown> {
    if (!this.#engine) return { running: false };
    return { running: true, ...this.#engine.status() };
  }

  /** Numbers for the metrics service (see `SyncEngine.metrics`). */
  metrics(): Record<string, number> {
    return this.#engine?.metrics() ?? {};
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#stop.abort();
    try {
      await this.#subscription?.unsubscribe();
    } catch { /* the client may be closed already */ }
    try {
      await this.#engine?.[Symbol.asyncDispose]();
    } catch (e) {
      this.#ctx.log.warn("Stopping sync failed", { error: String(e) });
    }
    await this.#ddb?.[Symbol.asyncDispose]();
    try {
      await this.#creds?.[Symbol.asyncDispose]();
    } catch { /* nothing to release */ }
  }
}

/** Factory for `lib/services.ts` (loaded lazily: the AWS SDK only when sync is on). */
export const syncService: ServiceFactory = {
  name: "sync",
  deps: ["database", "mqtt"],
  enabled: (config) => config.sync.enabled,
  create: (ctx) => new SyncService(ctx),
};
