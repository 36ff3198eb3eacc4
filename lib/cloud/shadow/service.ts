/**
 * The "cloud.shadow" service: the shadows of `cloud.shadow.shadows` over the
 * "mqtt" service's connection, their local copies in the agent's database
 * (table `_shadow`), and the model bindings. Status (→ /api/status) per
 * shadow: version, lastSync, pending, counters, last error.
 *
 * ```ts
 * agent.onService<ShadowService>("cloud.shadow", (shadows) => {
 *   shadows.get("thermostat").onDesired((d) => ({ setpoint: heater.set(d.setpoint) }));
 * });
 * ```
 */

import type { Service, ServiceContext, ServiceFactory } from "../../service.ts";
import { ServiceConfigError } from "../../service.ts";
import type { AuditService } from "../audit/service.ts";
import type { DatabaseService } from "../../db/mod.ts";
import { requireMqtt } from "../../mqtt/mod.ts";
import type { MetricFamily } from "../../metrics/mod.ts";
import { bindModel } from "./bind.ts";
import { shadowFamilies } from "./metrics.ts";
import type { Shadow } from "./shadow.ts";
import { Shadows } from "./shadows.ts";

export class ShadowService implements Service {
  readonly #ctx: ServiceContext;
  #shadows: Shadows | undefined;
  #unbind: (() => void)[] = [];

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
  }

  /** A shadow by its local name (throws a TypeError naming the configured ones). */
  get(name: string): Shadow {
    if (!this.#shadows) throw new Error("The cloud.shadow service is not running");
    return this.#shadows.get(name);
  }

  has(name: string): boolean {
    return this.#shadows?.has(name) ?? false;
  }

  names(): string[] {
    return this.#shadows?.names() ?? [];
  }

  async start(_signal: AbortSignal): Promise<void> {
    const ctx = this.#ctx;
    const config = ctx.config;
    const sc = config.cloud.shadow;
    const m = requireMqtt(ctx, "cloud.shadow");
    const mqtt = m.client;
    const mqttThing: string | undefined = m.thing;
    const db = ctx.get<DatabaseService>("database").db;
    const thing = sc.thing ?? mqttThing ?? config.device.thing ?? ctx.deviceId;
    try {
      this.#shadows = new Shadows({
        mqtt,
        db: db.sql,
        thing,
        entries: sc.shadows,
        requestTimeout: sc.requestTimeout,
        backoff: sc.backoff,
        clock: ctx.clock,
        log: ctx.log,
      });
      for (const [name, e] of Object.entries(sc.shadows)) {
        if (e.model) this.#unbind.push(bindModel(db, this.#shadows.get(name), e.model, ctx.log));
        if (e.direction !== "deviceToCloud") this.#unbind.push(this.#audit(name));
      }
    } catch (e) {
      throw new ServiceConfigError(`cloud.shadow: ${(e as Error).message}`, { cause: e });
    }
    await this.#shadows.start();
    ctx.log.info("Shadows started", { thing, shadows: this.#shadows.names() });
  }

  /** Each desired change handed to the device is an audit event (when the "audit" service runs). */
  #audit(name: string): () => void {
    const shadow = this.#shadows!.get(name);
    return shadow.onDesired((delta) => {
      let audit: AuditService;
      try {
        audit = this.#ctx.get<AuditService>("audit");
      } catch {
        return undefined; // the trail is off
      }
      audit.record({
        actor: { type: "cloud", id: shadow.thing },
        source: "cloud",
        action: "shadow.desired",
        target: `shadow:${name}`,
        details: { version: shadow.get().version, delta },
      });
      return undefined;
    });
  }

  status(): Record<string, unknown> {
    if (!this.#shadows) return {};
    return {
      inflight: this.#shadows.requests.inflight,
      shadows: this.#shadows.status(),
    };
  }

  /** Per-shadow series for `/metrics` and CloudWatch (metrics.ts). */
  metricFamilies(): MetricFamily[] {
    return this.#shadows ? shadowFamilies(this.#shadows.status()) : [];
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const u of this.#unbind.splice(0)) u();
    try {
      await this.#shadows?.[Symbol.asyncDispose]();
    } catch (e) {
      this.#ctx.log.warn("Stopping the shadows failed", { error: String(e) });
    }
  }
}

/** Factory for `lib/services.ts`. */
export const shadowService: ServiceFactory = {
  name: "cloud.shadow",
  deps: ["database", "mqtt"],
  enabled: (config) => config.cloud.shadow.enabled,
  create: (ctx) => new ShadowService(ctx),
};
