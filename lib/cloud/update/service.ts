/**
 * The "update" service: over-the-air updates of the agent through AWS IoT
 * Jobs over the "mqtt" service's connection (docs/update.md). Status
 * (→ /api/status): the running version and target, the current or last job
 * (phase, bytes, percent, reason), what it waits for, the last error.
 *
 * ```ts
 * const update = agent.get<UpdateService>("update");
 * update.busy();        // apply: "idle" — the device is busy now (restarts the idle clock)
 * update.check();       // ask Jobs for a job now
 * ```
 */

import denoJson from "../../../deno.json" with { type: "json" };
import type { Service, ServiceContext, ServiceFactory } from "../../service.ts";
import { ServiceConfigError } from "../../service.ts";
import type { AuditService } from "../audit/service.ts";
import type { DatabaseService } from "../../db/mod.ts";
import { requireMqtt } from "../../mqtt/mod.ts";
import type { ProvisionService } from "../provision/mod.ts";
import { updateBinary } from "../../config/mod.ts";
import { resolve } from "../../path.ts";
import { HttpClient, httpClientOptions } from "../../http/mod.ts";
import { UpdateStore } from "../../db/update_store.ts";
import { Installer } from "./install.ts";
import { JobsClient } from "./jobs.ts";
import { Updater } from "./updater.ts";

/** The version built into this agent (deno.json). */
export const BUILT_VERSION: string = denoJson.version;

export class UpdateService implements Service {
  readonly #ctx: ServiceContext;
  #updater: Updater | undefined;
  #http: HttpClient | undefined;
  #lastBusy = 0;

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
    this.#lastBusy = ctx.clock.now();
  }

  /** The device is busy now: with `apply: "idle"`, installing waits `idleFor` after the last call. */
  busy(): void {
    this.#lastBusy = this.#ctx.clock.now();
  }

  /** Ask Jobs for a pending job now. */
  check(): void {
    this.#updater?.kick();
  }

  async start(_signal: AbortSignal): Promise<void> {
    const ctx = this.#ctx;
    const config = ctx.config;
    const u = config.update;
    const m = requireMqtt(ctx, "update");
    const mqtt = m.client;
    const mqttThing: string | undefined = m.thing;
    if (!u.binary && /^deno(\.exe)?$/.test(Deno.execPath().split("/").pop() ?? "")) {
      // From source the executable is Deno itself: never replace that.
      throw new ServiceConfigError(
        'update needs "update.binary" when the agent runs from source (deno run), not compiled',
      );
    }
    const db = ctx.get<DatabaseService>("database").db;
    const thing = u.thing ?? mqttThing ?? config.device.thing ?? ctx.deviceId;
    const target = u.target ?? Deno.build.target;
    this.#http = new HttpClient(
      await httpClientOptions(config.http, {
        configDir: ctx.configDir,
        clock: ctx.clock,
        logger: ctx.log,
      }),
    );
    const mq = mqtt;
    this.#updater = new Updater({
      jobs: new JobsClient({ mqtt: mq, thing, clock: ctx.clock, timeout: u.requestTimeout }),
      store: new UpdateStore(db.sql),
      installer: new Installer({
        bin: updateBinary(u, { configDir: ctx.configDir, stateDir: ctx.stateDir }),
        stateDir: ctx.stateDir,
      }),
      http: this.#http,
      clock: ctx.clock,
      log: ctx.log,
      config: {
        ...u,
        bundles: Object.fromEntries(
          Object.entries(u.bundles).map((
            [k, b],
          ) => [k, { ...b, dir: resolve(ctx.configDir, b.dir) }]),
        ),
      },
      stateDir: ctx.stateDir,
      version: u.version ?? BUILT_VERSION,
      target,
      audit: (action, details, outcome) => this.#audit(thing, action, details, outcome),
      healthy: () => {
        const down = ctx.states(false).filter((s) => s.name !== "update" && s.state !== "running");
        if (down.length) {
          return `services not running: ${down.map((s) => `${s.name} ${s.state}`).join(", ")}`;
        }
        if (!mq.connected) return "not connected to the cloud (MQTT)";
        return undefined;
      },
      idle: () => ctx.clock.now() - this.#lastBusy >= u.idleFor,
      ...(config.provision.enabled
        ? { rotate: () => ctx.get<ProvisionService>("provision").rotate() }
        : {}),
    });
    await this.#updater.start();
    ctx.log.info("Updates started", { thing, version: u.version ?? BUILT_VERSION, target });
  }

  #audit(
    thing: string,
    action: string,
    details: Record<string, unknown>,
    outcome: "success" | "failure" = "success",
  ): void {
    let audit: AuditService;
    try {
      audit = this.#ctx.get<AuditService>("audit");
    } catch {
      return; // the trail is off
    }
    audit.record({
      actor: { type: "cloud", id: thing },
      source: "cloud",
      action,
      target: `job:${String(details.jobId ?? "")}`,
      outcome,
      details,
    });
  }

  status(): Record<string, unknown> {
    return this.#updater?.status() ?? {};
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.#updater?.[Symbol.asyncDispose]();
    } catch (e) {
      this.#ctx.log.warn("Stopping updates failed", { error: String(e) });
    }
    this.#http?.close();
  }
}

/** Factory for `lib/services.ts`. */
export const updateService: ServiceFactory = {
  name: "update",
  deps: ["database", "mqtt"],
  enabled: (config) => config.update.enabled,
  create: (ctx) => new UpdateService(ctx),
};
