/**
 * Every configured shadow of one thing over one MQTT connection: builds a
 * {@linkcode Shadow} per `cloud.shadow.shadows` entry on a shared request
 * channel (at most 10 requests in flight) and store (table `_shadow`).
 *
 * ```ts
 * await using shadows = new Shadows({ mqtt, db: sql, thing: "pump-1",
 *   entries: { thermostat: { classic: false, direction: "both", sync: { mode: "change", debounce: 200 }, recreate: false } },
 *   clock, log });
 * await shadows.start();
 * shadows.get("thermostat").update({ temperature: 20.5 });
 * ```
 */

import type { DatabaseSync } from "node:sqlite";
import type { Clock } from "../../clock.ts";
import type { ShadowEntry } from "../../config/_shadow.ts";
import type { Logger } from "../../log/mod.ts";
import type { MqttClient } from "../../mqtt/mod.ts";
import { ShadowRequests } from "./_requests.ts";
import { Shadow, type ShadowStatus } from "./shadow.ts";
import { ShadowStore } from "../../db/shadow_store.ts";

/** Options of {@linkcode Shadows}. */
export interface ShadowsOptions {
  mqtt: MqttClient;
  db: DatabaseSync;
  thing: string;
  /** Keyed by local name. */
  entries: Record<string, Omit<ShadowEntry, "model"> & { model?: unknown }>;
  /** ms. @default 10000 */
  requestTimeout?: number;
  /** ms. @default { min: 1000, max: 60000 } */
  backoff?: { min: number; max: number };
  clock: Clock;
  log: Logger;
  random?: () => number;
}

export class Shadows implements AsyncDisposable {
  readonly requests: ShadowRequests;
  readonly #shadows = new Map<string, Shadow>();

  constructor(o: ShadowsOptions) {
    this.requests = new ShadowRequests({
      mqtt: o.mqtt,
      clock: o.clock,
      timeout: () => o.requestTimeout ?? 10_000,
    });
    const store = new ShadowStore(o.db);
    const seen = new Map<string, string>();
    for (const [label, e] of Object.entries(o.entries)) {
      const name = e.classic ? undefined : (e.name ?? label);
      const id = name ?? "(classic)";
      const other = seen.get(id);
      if (other !== undefined) {
        throw new TypeError(
          `cloud.shadow.shadows: "${other}" and "${label}" are both the ${
            name ? `shadow "${name}"` : "classic shadow"
          }`,
        );
      }
      seen.set(id, label);
      this.#shadows.set(
        label,
        new Shadow({
          mqtt: o.mqtt,
          requests: this.requests,
          store,
          thing: o.thing,
          ...(name !== undefined ? { name } : {}),
          label,
          direction: e.direction,
          sync: e.sync,
          recreate: e.recreate,
          ...(o.backoff ? { backoff: o.backoff } : {}),
          clock: o.clock,
          log: o.log,
          ...(o.random ? { random: o.random } : {}),
        }),
      );
    }
  }

  /** Subscribe every shadow's reply topics, then start syncing. */
  async start(): Promise<void> {
    for (const s of this.#shadows.values()) await s.start();
  }

  /** A shadow by its local name; throws a TypeError naming the configured ones. */
  get(label: string): Shadow {
    const s = this.#shadows.get(label);
    if (!s) {
      const known = [...this.#shadows.keys()].map((k) => `"${k}"`).join(", ") || "none";
      throw new TypeError(`Unknown shadow "${label}" (configured: ${known})`);
    }
    return s;
  }

  has(label: string): boolean {
    return this.#shadows.has(label);
  }

  names(): string[] {
    return [...this.#shadows.keys()];
  }

  status(): Record<string, ShadowStatus> {
    return Object.fromEntries([...this.#shadows].map(([k, s]) => [k, s.status()]));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.requests.close();
    await Promise.all([...this.#shadows.values()].map((s) => s[Symbol.asyncDispose]()));
  }
}
