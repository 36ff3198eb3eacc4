/**
 * The sync engine: runs up and down passes — one at a time, so both never
 * touch the same item at once — on triggers and timers:
 *
 * - up: `upDelay` ms after a local change of a synced model (changes
 *   arriving meanwhile join the same pass), and every `upInterval` ms; each
 *   run repeats passes until the change log is drained.
 * - down: every `downInterval` ms, and at once on `nudge()` (an MQTT
 *   notification on the sync topic).
 * - a failed run is retried after a full-jitter backoff (`backoff.min` to
 *   `backoff.max`), so an outage never spins and a fleet never storms.
 *
 * ```ts
 * await using engine = new SyncEngine({ db, ddb, deviceId: "d1", config: config.sync });
 * engine.start();           // background loops
 * await engine.syncNow();   // or drive it by hand: up until drained, then down
 * ```
 */

import { Backoff } from "../lib/backoff.ts";
import { type Clock, systemClock } from "../lib/clock.ts";
import type { SyncConfig } from "../lib/config/mod.ts";
import type { Database } from "../lib/db/mod.ts";
import { type Logger, nullLogger } from "../lib/log/mod.ts";
import type { ConflictRecord } from "./conflict.ts";
import type { SyncContext, SyncCounters } from "./_context.ts";
import type { DynamoDb } from "./dynamodb.ts";
import { Downloader, type DownResult } from "./down.ts";
import { planModels, type SyncedModel, upModels } from "./plan.ts";
import { SyncState, UP_CURSOR } from "./_state.ts";
import { type UpKey, Uploader, type UpResult } from "./up.ts";
import { readStatus, type SyncStatus } from "./status.ts";

/** Options of {@linkcode SyncEngine}. */
export interface SyncEngineOptions {
  db: Database;
  ddb: DynamoDb;
  /** This device's id: `_device` on items sent, `_to` address of items received. */
  deviceId: string;
  /** The `sync` config section (defaults: `syncSection.parse({})`). */
  config: SyncConfig;
  /** @default systemClock */
  clock?: Clock;
  /** @default nullLogger */
  log?: Logger;
}

/** What `syncNow()` and `full()` did. */
export interface SyncReport {
  up: { advanced: number; accepted: number; failed: number };
  down: DownResult;
}

const RECENT_CONFLICTS = 20;

export class SyncEngine implements AsyncDisposable {
  readonly #ctx: SyncContext;
  readonly #up: Uploader;
  readonly #down: Downloader;
  readonly #stop = new AbortController();
  #lock: Promise<unknown> = Promise.resolve();
  #loops: Promise<void>[] = [];
  #unsubscribe: (() => void) | undefined;
  #upWake = new AbortController();
  #downWake = new AbortController();
  #upDue = false;
  #recent: ConflictRecord[] = [];
  #warnedBacklog = false;

  constructor(options: SyncEngineOptions) {
    const log = options.log ?? nullLogger;
    const state = new SyncState(options.db.sql);
    const counters: SyncCounters = {
      sent: 0,
      received: 0,
      skipped: 0,
      conflicts: 0,
      retries: 0,
      rejected: 0,
    };
    this.#ctx = {
      db: options.db,
      ddb: options.ddb,
      state,
      plan: planModels(options.db, options.config),
      deviceId: options.deviceId,
      config: options.config,
      clock: options.clock ?? systemClock,
      log,
      counters,
      conflict: (r) => {
        counters.conflicts++;
        this.#recent.push(r);
        if (this.#recent.length > RECENT_CONFLICTS) this.#recent.shift();
        const total = Number(state.get("conflicts") ?? "0") + 1;
        state.set("conflicts", String(total));
        log.warn(`Sync conflict on "${r.model}": the ${r.winner} version wins (${r.policy})`, {
          model: r.model,
          pk: r.pk,
          sk: r.sk,
          device: r.device,
          cloud: r.cloud,
        });
      },
    };
    // Register the cursor so the change log keeps what sync has not sent.
    const db = options.db;
    const fresh = !db.cursors().some((c) => c.name === UP_CURSOR);
    const cursor = db.cursor(UP_CURSOR);
    cursor.set(cursor.get());
    // A model newly synced up whose items predate what the change log holds gets them all
    // sent once (`initial:MODEL`). Not needed when the model is empty, or on the first run
    // over a change log that still starts at the first write.
    const wholeLog = fresh && (db.lastSeq() === 0 || db.changes(0, { limit: 1 })[0]?.seq === 1);
    for (const m of upModels(this.#ctx.plan)) {
      if (!state.get(`initial:${m.name}`) && (wholeLog || db.count(m.name) === 0)) {
        state.set(`initial:${m.name}`, new Date(this.#ctx.clock.now()).toISOString());
      }
    }
    this.#up = new Uploader(this.#ctx);
    this.#down = new Downloader(this.#ctx, this.#up);
  }

  /** The synced models. */
  get models(): SyncedModel[] {
    return [...this.#ctx.plan.values()];
  }

  /** Start the background loops (idempotent). */
  start(): this {
    if (this.#loops.length) return this;
    const up = new Set(upModels(this.#ctx.plan).map((m) => m.name));
    this.#unsubscribe = this.#ctx.db.subscribe(undefined, (c) => {
      if (c.origin === "local" && up.has(c.model)) this.#wakeUp();
    });
    this.#upDue = true; // send what accumulated while stopped
    this.#loops = [this.#loop("up"), this.#loop("down")];
    return this;
  }

  /** Trigger a down pass now (MQTT notification). */
  nudge(): void {
    this.#downWake.abort();
  }

  #wakeUp(): void {
    if (this.#upDue) return;
    this.#upDue = true;
    this.#upWake.abort();
  }

  /**
   * Send everything pending, then read what changed in the cloud (or only
   * one direction).
   */
  syncNow(signal?: AbortSignal, direction: "up" | "down" | "both" = "both"): Promise<SyncReport> {
    return this.#exclusive(async () => {
      const up = direction === "down"
        ? { advanced: 0, accepted: 0, failed: 0 }
        : await this.#upAll(signal);
      const down = direction === "up"
        ? { read: 0, applied: 0 }
        : await this.#downPass(signal, false);
      return { up, down };
    });
  }

  /** Re-send every local item of models synced up, then re-read every cloud item. */
  full(signal?: AbortSignal): Promise<SyncReport> {
    return this.#exclusive(async () => {
      const up = await this.#upAll(signal);
      let accepted = 0, failed = 0;
      for (const m of upModels(this.#ctx.plan)) {
        const r = await this.#sendAll(m, signal);
        accepted += r.accepted;
        failed += r.failed;
      }
      const down = await this.#downPass(signal, true);
      return { up: { advanced: up.advanced, accepted: up.accepted + accepted, failed }, down };
    });
  }

  /** Send every item of a model (`full`, first sync of a model with items). */
  async #sendAll(
    m: SyncedModel,
    signal?: AbortSignal,
  ): Promise<{ accepted: number; failed: number }> {
    const db = this.#ctx.db;
    // Keys first: no statement stays open across the awaits below.
    const keys: UpKey[] = [...db.items(m.name)].map(({ item }) => ({
      model: m,
      key: db.keyOf(m.name, item),
    }));
    let accepted = 0;
    for (let i = 0; i < keys.length; i += this.#ctx.config.readSize) {
      const chunk = keys.slice(i, i + this.#ctx.config.readSize);
      accepted += (await this.#up.send(chunk, signal, true)).size;
    }
    return { accepted, failed: keys.length - accepted };
  }

  /** Status for /api/status, metrics and `tern sync status`. */
  status(): SyncStatus {
    return {
      ...readStatus(this.#ctx.db, this.#ctx.state, this.#ctx.plan),
      counters: { ...this.#ctx.counters },
      recentConflicts: [...this.#recent],
    };
  }

  /**
   * Flat numbers for CloudWatch metrics: pending changes, totals since start,
   * and seconds since the last successful pass of each direction (-1: never).
   */
  metrics(): Record<string, number> {
    const s = this.status();
    const age = (iso?: string) =>
      iso ? Math.max(0, Math.round((this.#ctx.clock.now() - Date.parse(iso)) / 1000)) : -1;
    return {
      SyncBacklog: s.backlog,
      SyncItemsSent: s.counters!.sent,
      SyncItemsReceived: s.counters!.received,
      SyncConflicts: s.counters!.conflicts,
      SyncRetries: s.counters!.retries,
      SyncRejected: s.counters!.rejected,
      SyncUpAgeSeconds: age(s.up.lastSuccess),
      SyncDownAgeSeconds: age(s.down.lastSuccess),
    };
  }

  async #upAll(signal?: AbortSignal): Promise<UpResult> {
    const total: UpResult = { advanced: 0, accepted: 0, failed: 0, drained: false };
    try {
      for (const m of upModels(this.#ctx.plan)) {
        if (this.#ctx.state.get(`initial:${m.name}`)) continue;
        const r = await this.#sendAll(m, signal);
        total.accepted += r.accepted;
        if (r.failed > 0) throw new Error(`${r.failed} item(s) of "${m.name}" not accepted`);
        this.#ctx.state.set(`initial:${m.name}`, new Date(this.#ctx.clock.now()).toISOString());
        this.#ctx.log.info(`Sync sent the ${r.accepted} existing item(s) of "${m.name}"`);
      }
      for (;;) {
        const r = await this.#up.pass(signal);
        total.advanced += r.advanced;
        total.accepted += r.accepted;
        total.failed += r.failed;
        if (r.drained || r.advanced === 0) {
          total.drained = r.drained;
          break;
        }
      }
      this.#ok("up");
      return total;
    } catch (e) {
      this.#failed("up", e);
      throw e;
    } finally {
      if (!this.#ctx.db.closed) this.#checkBacklog();
    }
  }

  async #downPass(signal: AbortSignal | undefined, full: boolean): Promise<DownResult> {
    try {
      const r = await this.#down.pass(signal, full);
      this.#ok("down");
      return r;
    } catch (e) {
      this.#failed("down", e);
      throw e;
    }
  }

  #ok(dir: "up" | "down"): void {
    this.#ctx.state.set(`last:${dir}:success`, new Date(this.#ctx.clock.now()).toISOString());
  }

  #failed(dir: "up" | "down", e: unknown): void {
    if (this.#ctx.db.closed || this.#stop.signal.aborted) return;
    const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    this.#ctx.state.set(
      `last:${dir}:error`,
      JSON.stringify({ at: new Date(this.#ctx.clock.now()).toISOString(), message }),
    );
  }

  #checkBacklog(): void {
    const pending = this.#ctx.db.lastSeq() - this.#ctx.db.cursor(UP_CURSOR).get();
    const limit = this.#ctx.config.backlogWarning;
    if (pending >= limit && !this.#warnedBacklog) {
      this.#warnedBacklog = true;
      this.#ctx.log.warn(
        `Sync backlog: ${pending} local changes wait to be sent (warning at ${limit})`,
        { pending },
      );
    } else if (pending < limit / 2) this.#warnedBacklog = false;
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => {});
    return run;
  }

  async #loop(dir: "up" | "down"): Promise<void> {
    const { clock, config, log } = this.#ctx;
    const stop = this.#stop.signal;
    const backoff = new Backoff({ min: config.backoff.min, max: config.backoff.max });
    let wait = 0; // the first run starts at once
    while (!stop.aborted) {
      const wake = dir === "up" ? this.#upWake : this.#downWake;
      if (wait > 0) {
        try {
          await clock.sleep(wait, AbortSignal.any([stop, wake.signal]));
        } catch { /* woken or stopped */ }
      }
      if (stop.aborted) return;
      if (wake.signal.aborted) {
        if (dir === "up") this.#upWake = new AbortController();
        else this.#downWake = new AbortController();
      }
      if (dir === "up" && this.#upDue && config.upDelay > 0) {
        try {
          await clock.sleep(config.upDelay, stop);
        } catch {
          return;
        }
      }
      if (dir === "up") this.#upDue = false;
      try {
        if (dir === "up") await this.#exclusive(() => this.#upAll(stop));
        else await this.#exclusive(() => this.#downPass(stop, false));
        backoff.reset();
        wait = dir === "up" ? config.upInterval : config.downInterval;
      } catch (e) {
        if (stop.aborted) return;
        if (dir === "up") this.#upDue = true; // a change must not cut the backoff short
        wait = Math.max(1, backoff.next());
        log.warn(`Sync ${dir} failed; retrying in ${wait} ms`, { error: String(e) });
      }
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#stop.abort();
    this.#unsubscribe?.();
    await Promise.allSettled(this.#loops);
    await this.#lock;
  }
}
