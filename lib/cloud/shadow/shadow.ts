/**
 * One device shadow (classic or named): a local copy in SQLite kept in sync
 * with AWS IoT over MQTT.
 *
 * ```ts
 * const t = shadows.get("thermostat");
 * t.onDesired((delta) => { heater.setpoint = delta.setpoint; return { setpoint: delta.setpoint }; });
 * await t.update({ temperature: 20.5 });     // stored now, sent when online
 * t.get();                                   // { desired, reported, delta, version, pending }
 * ```
 *
 * Sync rules:
 * - Device → cloud: what is pending is `diff(base, local)` (the last synced
 *   document against the local copy), sent as one update: offline changes
 *   coalesce to the latest value of each field. With `sync.mode` "change" an
 *   update goes `debounce` ms after the first change; "periodic" sends what is
 *   pending every `interval` ms.
 * - The update carries the version of `base`; a 409 triggers a `get` and a
 *   three-way merge (reported: the device wins, desired: the cloud wins;
 *   merge.ts), then the merged difference is sent without a version, so a
 *   conflict is resolved in one round and can never loop.
 * - Cloud → device (`update/documents`, `update/delta`, `get/accepted`): a
 *   document with version = last + 1 (or the same) is merged in; a gap
 *   triggers a full `get`; an older one is ignored. After every (re)connect a
 *   `get` re-reads the cloud document.
 * - Handlers (`onDesired`) get the delta (desired fields reported does not
 *   match) whenever it changes; an object they return is the next reported
 *   state (`update()`).
 * - A shadow deleted in the cloud is recreated from the local reported state
 *   when `recreate` is set; otherwise the local copy is cleared.
 * - Rejections: 409 merge; 429, 5xx, timeouts: retried with full-jitter
 *   backoff; 401/403: retried at the backoff ceiling; 400, 413, 415: the
 *   update is refused for good, counted, logged and dropped (the local copy
 *   returns to the cloud's document at the next full sync).
 */

import { fullJitter } from "../../backoff.ts";
import type { Logger } from "../../log/mod.ts";
import type { MqttMessage } from "../../mqtt/mod.ts";
import { checkPatch, checkStateSize } from "./limits.ts";
import { apply, countFields, delta, equal, isObject, type State } from "./merge.ts";
import { afterAccepted, afterDelete, merged, type Pending, pendingOf, withSent } from "./_rules.ts";
import { classify } from "./_messages.ts";
import { rejection, type Reply, ShadowError } from "./_requests.ts";
import type { ShadowRow } from "../../db/shadow_store.ts";
import { type ShadowTopics, shadowTopics } from "./topics.ts";
import type {
  DesiredHandler,
  ShadowDirection,
  ShadowOptions,
  ShadowStatus,
  ShadowView,
} from "./_types.ts";

export type { DesiredHandler, ShadowDirection, ShadowOptions, ShadowStatus, ShadowView };

export class Shadow implements AsyncDisposable {
  readonly label: string;
  readonly thing: string;
  readonly name: string | undefined;
  readonly topics: ShadowTopics;
  readonly #o: ShadowOptions;
  readonly #direction: ShadowDirection;
  readonly #log: Logger;
  readonly #stop = new AbortController();
  readonly #handlers = new Set<DesiredHandler>();
  #row: ShadowRow;
  #needGet = true;
  #unconditional = false;
  #due = false;
  #dueTimer: AbortController | undefined;
  #wake: PromiseWithResolvers<void> = Promise.withResolvers();
  #loop: Promise<void> | undefined;
  /** The desired state the handlers were last called for. */
  #handled: State | undefined;
  #handling: Promise<void> = Promise.resolve();
  #idle: PromiseWithResolvers<void>[] = [];
  #offConnect: (() => void) | undefined;
  #stats = { updates: 0, conflicts: 0, gaps: 0, echoes: 0, refused: 0, retries: 0 };
  #lastError: string | undefined;

  constructor(options: ShadowOptions) {
    this.#o = options;
    this.thing = options.thing;
    this.name = options.name;
    this.label = options.label ?? options.name ?? "classic";
    this.topics = shadowTopics(options.thing, options.name);
    this.#direction = options.direction ?? "both";
    this.#log = options.log;
    this.#row = options.store.load(options.thing, options.name ?? "");
  }

  /** Subscribe to the reply topics (before anything is published) and start syncing. */
  async start(): Promise<void> {
    const m = this.#o.mqtt;
    for (const t of this.topics.replies) {
      await m.subscribe(t, (msg) => this.#onMessage(msg), { qos: 1 });
    }
    this.#offConnect = m.onConnected(() => {
      this.#needGet = true;
      this.#kick();
    });
    if (this.#o.sync?.mode === "periodic") this.#periodic(this.#o.sync.interval);
    else this.#due = this.#hasPending();
    this.#loop = this.#run();
  }

  /** The local copy (works offline). */
  get(): ShadowView {
    const r = this.#row;
    return {
      desired: structuredClone(r.desired),
      reported: structuredClone(r.reported),
      delta: delta(r.desired, r.reported),
      version: r.version,
      pending: this.#pending(),
    };
  }

  /**
   * Change the reported state (`null` deletes a field). Validated first (a
   * bad value throws and changes nothing); stored before it returns; sent
   * when online. `desired` changes the device's desired too (the cloud wins
   * a conflict on it).
   */
  update(reported: State, options: { desired?: State } = {}): ShadowView {
    checkPatch("reported", reported);
    if (options.desired !== undefined) checkPatch("desired", options.desired);
    const next = {
      ...this.#row,
      reported: apply(this.#row.reported, reported),
      desired: options.desired ? apply(this.#row.desired, options.desired) : this.#row.desired,
    };
    checkPatch("reported", next.reported);
    if (options.desired !== undefined) checkPatch("desired", next.desired);
    checkStateSize(next.desired, next.reported);
    this.#save(next);
    this.#changed();
    return this.get();
  }

  /** Call `fn` with every new delta; returns the function that removes it. */
  onDesired(fn: DesiredHandler): () => void {
    this.#handlers.add(fn);
    this.#handled = undefined;
    this.#afterCloud();
    return () => this.#handlers.delete(fn);
  }

  /** Resolve once nothing is pending and no full sync is due (tests, shutdown). */
  synced(signal?: AbortSignal): Promise<void> {
    if (this.#settled()) return Promise.resolve();
    const w = Promise.withResolvers<void>();
    this.#idle.push(w);
    signal?.addEventListener("abort", () => w.reject(signal.reason), { once: true });
    return w.promise;
  }

  status(): ShadowStatus {
    const r = this.#row;
    const p = this.#pending();
    return {
      thing: this.thing,
      shadow: this.name ?? null,
      direction: this.#direction,
      version: r.version,
      exists: r.exists,
      lastSync: r.synced || null,
      pending: countFields(p.desired ?? {}) + countFields(p.reported ?? {}),
      ...this.#stats,
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#stop.abort();
    this.#offConnect?.();
    this.#dueTimer?.abort();
    this.#wake.resolve();
    await this.#loop?.catch(() => {});
    await this.#handling.catch(() => {});
  }

  // ---- the sync loop -------------------------------------------------------

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    let failures = 0;
    while (!signal.aborted) {
      const work = this.#needGet || (this.#due && this.#hasPending());
      if (!work) {
        this.#notifyIdle();
        await this.#wake.promise;
        this.#wake = Promise.withResolvers();
        continue;
      }
      try {
        await this.#o.mqtt.waitConnected(signal);
        if (this.#needGet) await this.#fullSync();
        else await this.#flush();
        failures = 0;
      } catch (e) {
        if (signal.aborted) break;
        const auth = e instanceof ShadowError && (e.status === 401 || e.status === 403);
        const max = this.#o.backoff?.max ?? 60_000;
        const wait = auth ? max : fullJitter(failures++, {
          min: this.#o.backoff?.min ?? 1000,
          max,
          ...(this.#o.random ? { random: this.#o.random } : {}),
        });
        this.#stats.retries++;
        this.#lastError = (e as Error).message;
        this.#log.warn(`Shadow "${this.label}": ${(e as Error).message}; retrying in ${wait} ms`);
        await this.#o.clock.sleep(wait, signal).catch(() => {});
      }
    }
  }

  async #fullSync(): Promise<void> {
    this.#needGet = false;
    let reply: Reply;
    try {
      reply = await this.#o.requests.request(this.topics.get, {}, this.#stop.signal);
    } catch (e) {
      this.#needGet = true;
      throw e;
    }
    if (reply.accepted) {
      const p = reply.payload;
      const state = isObject(p.state) ? p.state : {};
      this.#adopt(state, Number(p.version), "get");
      return;
    }
    const code = Number(reply.payload.code);
    if (code === 404) {
      // Never created yet (or deleted while the device was off, when it knew it existed).
      if (this.#row.exists) this.#deletedInCloud("get");
      else this.#changed();
      return;
    }
    this.#needGet = true;
    throw rejection("get", reply.payload);
  }

  async #flush(): Promise<void> {
    const p = this.#pending();
    if (!p.desired && !p.reported) return;
    const r = this.#row;
    const conditional = r.exists && r.version > 0 && !this.#unconditional;
    const body: Record<string, unknown> = { state: p };
    if (conditional) body.version = r.version;
    const reply = await this.#o.requests.request(this.topics.update, body, this.#stop.signal);
    if (reply.accepted) {
      this.#unconditional = false;
      this.#stats.updates++;
      this.#due = this.#o.sync?.mode === "periodic" ? false : this.#due;
      const next = afterAccepted(
        this.#row,
        p,
        Number(reply.payload.version),
        conditional,
        this.#o.clock.now(),
      );
      if (next.needGet) this.#needGet = true;
      this.#row = next.row;
      this.#save(this.#row);
      return;
    }
    const code = Number(reply.payload.code);
    if (code === 409) {
      this.#stats.conflicts++;
      this.#log.info(
        `Shadow "${this.label}": version conflict at version ${r.version}; ` +
          "merging three ways (reported: device wins, desired: cloud wins)",
      );
      this.#needGet = true;
      this.#unconditional = true;
      return;
    }
    const err = rejection("update", reply.payload);
    if (code === 400 || code === 413 || code === 415) {
      this.#stats.refused++;
      this.#lastError = err.message;
      this.#log.error(`Shadow "${this.label}": update refused for good, dropped: ${err.message}`);
      this.#row = withSent(this.#row, p);
      this.#save(this.#row);
      this.#needGet = true;
      return;
    }
    throw err;
  }

  // ---- what the cloud says -------------------------------------------------

  #onMessage(msg: MqttMessage): void {
    const m = classify(this.topics, msg);
    if (m.kind === "bad") {
      this.#log.warn(`Shadow "${this.label}": ignoring a message on "${msg.topic}": ${m.why}`);
      return;
    }
    if (m.kind === "reply") {
      if (this.#o.requests.offer(m.token, { accepted: m.accepted, payload: m.payload })) return;
      if (m.op === "delete" && m.accepted) this.#deletedInCloud("delete");
      return;
    }
    if (m.kind === "documents") {
      const echo = this.#o.requests.ours(m.token);
      if (echo) this.#stats.echoes++;
      this.#fromCloud(
        m.version,
        () => this.#adopt(m.state, m.version, echo ? "echo" : "documents"),
        true,
      );
      return;
    }
    if (this.#direction === "deviceToCloud") return;
    this.#fromCloud(m.version, () => {
      const r = this.#row;
      this.#save({
        ...r,
        desired: apply(r.desired, m.state),
        base: { ...r.base, desired: apply(r.base.desired, m.state) },
        version: m.version,
        exists: true,
      });
      this.#afterCloud();
    }, false);
  }

  /** Version rules for a pushed document: +1 applies, a gap re-reads, older is ignored. */
  #fromCloud(v: number, applyIt: () => void, sameToo: boolean): void {
    if (!Number.isSafeInteger(v) || v < 1) return;
    const cur = this.#row.version;
    if (v < cur || (v === cur && !sameToo)) return;
    if (cur > 0 && v > cur + 1) {
      this.#stats.gaps++;
      this.#log.info(`Shadow "${this.label}": version ${v} after ${cur}: reading the whole shadow`);
      this.#needGet = true;
      this.#kick();
      return;
    }
    applyIt();
  }

  /** Merge a cloud document (state with desired and reported) at version `v` into the local copy. */
  #adopt(state: State, v: number, from: string): void {
    const r = this.#row;
    if (from !== "get" && Number.isSafeInteger(v) && v < r.version) return;
    const next = merged(r, state, v, this.#direction, this.#o.clock.now());
    if (from !== "echo" && this.#hasPending() && !equal(next.base, r.base)) {
      this.#log.info(
        `Shadow "${this.label}": merged cloud version ${v} with local changes ` +
          "(reported: device wins, desired: cloud wins)",
      );
    }
    this.#save(next);
    this.#changed();
    this.#afterCloud();
  }

  #deletedInCloud(how: string): void {
    const recreate = this.#o.recreate ?? false;
    this.#log.info(
      `Shadow "${this.label}" was deleted in the cloud (${how}): ` +
        (recreate ? "recreating it" : "local copy cleared (recreate is off)"),
    );
    this.#save(afterDelete(this.#row, recreate));
    this.#handled = undefined;
    if (recreate) {
      this.#due = true;
      this.#kick();
    }
  }

  // ---- helpers -------------------------------------------------------------

  #pending(): Pending {
    return pendingOf(this.#row, this.#direction);
  }

  #hasPending(): boolean {
    const p = this.#pending();
    return !!(p.desired || p.reported);
  }

  #settled(): boolean {
    return !this.#needGet && !this.#hasPending();
  }

  #save(row: ShadowRow): void {
    this.#o.store.save(this.thing, this.name ?? "", row);
    this.#row = row;
  }

  /** The local copy changed: arm the debounce (mode "change"). */
  #changed(): void {
    if (!this.#hasPending()) {
      this.#notifyIdle();
      return;
    }
    if (this.#due) this.#kick();
    if (this.#o.sync?.mode === "periodic" || this.#due || this.#dueTimer) return;
    const wait = this.#o.sync?.mode === "change" ? this.#o.sync.debounce : 200;
    if (wait === 0) {
      this.#due = true;
      this.#kick();
      return;
    }
    const ctl = new AbortController();
    this.#dueTimer = ctl;
    this.#o.clock.sleep(wait, AbortSignal.any([ctl.signal, this.#stop.signal])).then(() => {
      this.#dueTimer = undefined;
      this.#due = true;
      this.#kick();
    }, () => {});
  }

  #periodic(interval: number): void {
    const tick = () => {
      this.#o.clock.sleep(interval, this.#stop.signal).then(() => {
        this.#due = true;
        this.#kick();
        tick();
      }, () => {});
    };
    tick();
  }

  #kick(): void {
    this.#wake.resolve();
  }

  #notifyIdle(): void {
    if (!this.#settled()) return;
    if (this.#o.sync?.mode !== "periodic") this.#due = false;
    for (const w of this.#idle.splice(0)) w.resolve();
  }

  /**
   * After the cloud changed desired: tell the handlers the delta (one call at
   * a time, in order). A change the device makes to reported calls nobody,
   * as AWS publishes `update/delta` only when desired changes.
   */
  #afterCloud(): void {
    if (this.#direction === "deviceToCloud" || this.#handlers.size === 0) return;
    if (this.#handled && equal(this.#handled, this.#row.desired)) return;
    this.#handled = structuredClone(this.#row.desired);
    const d = delta(this.#row.desired, this.#row.reported);
    if (Object.keys(d).length === 0) return;
    this.#handling = this.#handling.then(async () => {
      for (const fn of [...this.#handlers]) {
        try {
          const out = await fn(structuredClone(d), this);
          if (out !== undefined && !this.#stop.signal.aborted) this.update(out);
        } catch (e) {
          this.#log.error(`Shadow "${this.label}": a desired-state handler failed`, {
            error: (e as Error).message,
          });
        }
      }
    });
  }
}
