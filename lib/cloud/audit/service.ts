/**
 * The "audit" service: the audit trail of the agent (docs/audit.md). It
 * opens the chain in the agent's database, offers `record()` to the rest of
 * the agent (web auth, users, config, shadows, data API, the device maker's
 * own events), ships to the destinations that are on (lib/cloud/audit/
 * shipping.ts, loaded only then) and prunes by `audit.retention`, never an
 * event not yet shipped.
 *
 * ```ts
 * const audit = agent.get<AuditService>("audit");
 * audit.record({ actor: { type: "device", id: "door" }, action: "app.door.open", target: "door:front" });
 * ```
 */

import type { DatabaseService } from "../../db/mod.ts";
import { type AuditEvent } from "../../db/mod.ts";
import { later } from "../../later.ts";
import type { Service, ServiceContext, ServiceFactory } from "../../service.ts";
import type { SpoolStream, StreamStatus } from "../spool.ts";
import type { Shipping } from "./shipping.ts";
import { type AuditRecord, AuditTrail } from "./trail.ts";

export class AuditService implements Service {
  readonly #ctx: ServiceContext;
  readonly #stop = new AbortController();
  readonly #loops: Promise<void>[] = [];
  #trail: AuditTrail | undefined;
  #shipping: Shipping | undefined;
  #held = false;

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
  }

  /** The trail (chain and record), once started. */
  get trail(): AuditTrail {
    if (!this.#trail) throw new Error("The audit service is not running");
    return this.#trail;
  }

  /**
   * Record one event, durable when this returns (inside the caller's
   * `db.transaction()` it commits or rolls back with it). TypeError for a
   * bad event; nothing is stored then.
   */
  record(event: AuditRecord): AuditEvent {
    return this.trail.record(event);
  }

  async start(_signal: AbortSignal): Promise<void> {
    const ctx = this.#ctx;
    const db = ctx.get<DatabaseService>("database").db;
    this.#trail = new AuditTrail({
      db,
      clock: ctx.clock,
      redactor: ctx.redactor,
      device: ctx.deviceId,
    });
    const a = ctx.config.audit;
    if (a.cloudtrail.enabled || a.logs.enabled) {
      const m = await later<typeof import("./shipping.ts")>("lib/cloud/audit/shipping.ts");
      const s = this.#shipping = m.startShipping(ctx, db);
      this.#trail.setDestinations(s.destinations);
      for (const sender of s.senders) this.#loops.push(sender.run(this.#stop.signal));
    }
    this.#loops.push(this.#pruneLoop(this.#stop.signal));
  }

  /** Apply `audit.retention`: prune what was shipped; hold (with a warning) what was not. */
  prune(): { pruned: number; held: number } {
    const a = this.#ctx.config.audit;
    const keepFrom = Math.min(
      ...(this.#shipping?.destinations ?? []).map((d) => _oldestSeq(d.stream)),
    );
    const r = this.trail.log.prune({
      maxEvents: a.retention.maxEvents,
      before: this.#ctx.clock.now() - a.retention.maxAgeDays * 86_400_000,
      keepFrom,
    });
    if (r.held > 0 && !this.#held) {
      this.#ctx.log.warn(
        "Audit events past retention are kept: they are not shipped yet (the spool bound applies)",
        { held: r.held },
      );
    }
    this.#held = r.held > 0;
    if (r.pruned) this.#ctx.log.debug("Audit events pruned", { pruned: r.pruned });
    return r;
  }

  async #pruneLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        this.prune();
      } catch (e) {
        this.#ctx.log.warn("Pruning audit events failed", { error: e });
      }
      try {
        await this.#ctx.clock.sleep(this.#ctx.config.audit.pruneInterval, signal);
      } catch {
        return;
      }
    }
  }

  /** The destinations' spool streams. */
  streams(): StreamStatus[] {
    return this.#shipping?.destinations.map((d) => d.stream.status()) ?? [];
  }

  /** The senders (tests drive them). */
  get senders(): Shipping["senders"] {
    return this.#shipping?.senders ?? [];
  }

  status(): Record<string, unknown> {
    const s = this.#trail?.log.stats();
    return { events: s?.count ?? 0, lastSeq: s?.last ?? 0, spool: this.streams() };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#stop.abort();
    await Promise.allSettled(this.#loops);
    this.#shipping?.close();
  }
}

/** The seq of the oldest event still waiting in `stream` (Infinity when none waits). */
function _oldestSeq(stream: SpoolStream): number {
  const [r] = stream.peek({ maxRecords: 1 });
  if (!r) return Infinity;
  const nl = r.data.lastIndexOf("\n", r.data.indexOf("{"));
  try {
    return (JSON.parse(nl >= 0 ? r.data.slice(nl + 1) : r.data) as AuditEvent).seq;
  } catch {
    return Infinity;
  }
}

/** Factory for `lib/services.ts`. */
export const auditService: ServiceFactory = {
  name: "audit",
  deps: ["database", "aws", "provision"], // provision: {thing}, when it is on
  enabled: (config) => config.database.enabled && config.audit.enabled,
  create: (ctx) => new AuditService(ctx),
};
