/**
 * The "provision" service: the device's identity (docs/provisioning.md).
 *
 * - No identity yet: provisioning by claim (claim.ts) runs in the
 *   background, retried with full-jitter backoff (`provision.retry`) after
 *   every failure, which is logged, audited and shown in `/api/status` with
 *   AWS's `statusCode`, `errorCode` and `errorMessage`. The agent keeps
 *   serving locally meanwhile; nothing here ever stops it.
 * - An identity: it is what the "mqtt" service connects with (through the
 *   "identity" service, which starts once there is one, so MQTT and what
 *   depends on it wait in state "waiting"). Rotation (rotate.ts) runs when
 *   `rotation.at` of the certificate's lifetime has passed, when a message
 *   arrives on `rotation.requestTopic`, or to finish one a power cut broke.
 *
 * Audit actions: `provision.claim`, `provision.rotate` (outcome success or
 * failure; `details.result` "rolledBack" after a roll back), each with the
 * certificate id, thing name and error fields; the token never.
 */

import { Backoff } from "../../backoff.ts";
import type { DatabaseService } from "../../db/mod.ts";
import { type FlowResult, ProvisionStore } from "../../db/provision_store.ts";
import { join } from "../../path.ts";
import {
  type Service,
  type ServiceContext,
  type ServiceFactory,
  thingName,
} from "../../service.ts";
import type { AuditRecord } from "../audit/trail.ts";
import { type FlowDeps, runClaim } from "./claim.ts";
import { certInfo } from "./csr.ts";
import { ProvisionError } from "./fleet.ts";
import { IdentityStore, type LoadedIdentity } from "./identity.ts";
import { installIdentity } from "./install.ts";
import { type IdentityUser, runRotation } from "./rotate.ts";

/** Longest sleep between looks at the clock, in ms. */
const MAX_SLEEP = 6 * 3_600_000;
/** How often to look for the "mqtt" service while it is not running, in ms. */
const MQTT_POLL = 500;

/** How a rotation asked for with `rotate()` ended. */
export type RotationResult =
  | { outcome: "success"; certificateId: string }
  | { outcome: "rolledBack" | "failure"; error: string };

type _State = "unprovisioned" | "provisioning" | "provisioned" | "rotating";

export class ProvisionService implements Service {
  readonly #ctx: ServiceContext;
  readonly #life = new AbortController();
  #wake = new AbortController();
  #store: ProvisionStore | undefined;
  #ids: IdentityStore | undefined;
  #identity: LoadedIdentity | undefined;
  readonly #ready = Promise.withResolvers<void>();
  #loop: Promise<void> | undefined;
  #state: _State = "unprovisioned";
  #attempts = 0;
  #lastError: Record<string, unknown> | undefined;
  #nextAttemptAt: number | undefined;
  #rotateRequested = false;
  #rotationWaiters: ((r: RotationResult) => void)[] = [];
  #requestClient: unknown;
  /** Aborts the claim attempt under way (an installed identity supersedes it). */
  #attempt: AbortController | undefined;

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
  }

  /** The identity in force, or undefined before the first. */
  identity(): LoadedIdentity | undefined {
    return this.#identity;
  }

  /** Resolves once there is an identity. */
  ready(signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      this.#ready.promise.then(resolve);
    });
  }

  /**
   * Install a certificate and key an installer uploaded (the web UI, admin)
   * as the identity in force: checked first (TypeError, nothing changes),
   * then committed; a claim flow under way is abandoned, and a running MQTT
   * connection switches to it.
   */
  async install(
    o: {
      certPem: string;
      keyPem: string;
      thing?: string;
      actor: AuditRecord["actor"];
      source?: string;
    },
  ): Promise<LoadedIdentity> {
    const ctx = this.#ctx;
    const thing = o.thing ?? thingName(ctx.config, ctx.deviceId, this.#identity);
    const id = await installIdentity({
      dir: this.#ids!.dir,
      certPem: o.certPem,
      keyPem: o.keyPem,
      thing,
      now: ctx.clock.now(),
    });
    this.#attempt?.abort(new DOMException("An identity was installed", "AbortError"));
    this.#store!.clearFlow();
    const had = this.#identity !== undefined;
    this.#identity = this.#ids!.current();
    this.#state = "provisioned";
    this.#lastError = undefined;
    this.#result({
      purpose: "install",
      outcome: "success",
      at: ctx.clock.now(),
      certificateId: id.certificateId,
    });
    this.#audit({
      actor: o.actor,
      ...(o.source ? { source: o.source } : {}),
      action: "provision.install",
      target: `thing:${id.thing}`,
      details: { certificateId: id.certificateId, ...this.#validity() },
    });
    ctx.log.info("Identity installed", { thing: id.thing, certificateId: id.certificateId });
    if (had) await this.#mqtt()?.useIdentity(this.#identity!);
    this.#ready.resolve();
    this.#poke();
    return this.#identity!;
  }

  /** Rotate now (a cloud request, `tern provision rotate` through the API). */
  rotateNow(): void {
    this.#rotateRequested = true;
    this.#poke();
  }

  /**
   * Rotate now and resolve with how that rotation ended (an IoT Job asking
   * for it: lib/cloud/update). A failed attempt is retried by the service as
   * usual; the promise tells the first outcome.
   */
  rotate(): Promise<RotationResult> {
    if (!this.#ctx.config.provision.rotation.enabled) {
      return Promise.resolve({ outcome: "failure", error: "provision.rotation.enabled is false" });
    }
    if (!this.#identity) {
      return Promise.resolve({ outcome: "failure", error: "the device has no identity yet" });
    }
    const w = Promise.withResolvers<RotationResult>();
    this.#rotationWaiters.push(w.resolve);
    this.rotateNow();
    return w.promise;
  }

  #rotated(r: RotationResult): void {
    for (const resolve of this.#rotationWaiters.splice(0)) resolve(r);
  }

  start(_signal: AbortSignal): Promise<void> {
    const ctx = this.#ctx;
    const db = ctx.get<DatabaseService>("database").db.sql;
    this.#store = new ProvisionStore(db);
    this.#ids = new IdentityStore(join(ctx.stateDir, ctx.config.provision.dir));
    this.#identity = this.#ids.current();
    // What a power cut left behind (a torn temp file, the pair of a commit that did not finish,
    // an abandoned flow's key) goes; the flow under way keeps its key.
    const flow = this.#store.flow();
    const removed = this.#ids.sweep(flow ? [flow.keyFile] : []);
    if (removed.length) ctx.log.info("Leftover identity files removed", { files: removed.length });
    if (this.#identity) {
      this.#state = "provisioned";
      this.#ready.resolve();
    }
    this.#loop = this.#run(db);
    return Promise.resolve();
  }

  #poke(): void {
    const w = this.#wake;
    this.#wake = new AbortController();
    w.abort();
  }

  async #run(db: import("node:sqlite").DatabaseSync): Promise<void> {
    const ctx = this.#ctx;
    const life = this.#life.signal;
    const p = () => ctx.config.provision;
    const backoff = new Backoff({ min: p().retry.min, max: p().retry.max });
    const sleep = (ms: number) =>
      ctx.clock.sleep(Math.max(0, ms), AbortSignal.any([life, this.#wake.signal])).catch(() => {});
    const deps = (): FlowDeps => ({
      store: this.#store!,
      identities: this.#ids!,
      provision: p(),
      mqtt: ctx.config.mqtt,
      db,
      deviceId: ctx.deviceId,
      thing: ctx.config.device.thing ?? ctx.deviceId,
      configDir: ctx.configDir,
      clock: ctx.clock,
      log: ctx.log,
      secret: (v) => ctx.redactor.add(v),
      onStep: () => {},
      signal: life,
    });
    const failed = async (purpose: "claim" | "rotate", e: unknown, rolledBack = false) => {
      if (life.aborted) return;
      const fields = e instanceof ProvisionError
        ? e.toJSON()
        : { statusCode: 0, errorCode: "Error", errorMessage: (e as Error)?.message ?? String(e) };
      this.#lastError = { ...fields, at: new Date(ctx.clock.now()).toISOString() };
      const delay = backoff.next();
      this.#nextAttemptAt = ctx.clock.now() + delay;
      ctx.log.error(
        purpose === "claim"
          ? "Provisioning by claim failed"
          : rolledBack
          ? "Certificate rotation rolled back"
          : "Certificate rotation failed",
        { ...fields, attempt: this.#attempts, retryInMs: delay },
      );
      this.#result({
        purpose,
        outcome: rolledBack ? "rolledBack" : "failure",
        at: ctx.clock.now(),
        error: fields as FlowResult["error"] & object,
      });
      this.#audit({
        action: `provision.${purpose}`,
        outcome: "failure",
        details: { ...fields, ...(rolledBack ? { result: "rolledBack" } : {}) },
      });
      await sleep(delay);
      this.#nextAttemptAt = undefined;
    };
    while (!life.aborted) {
      if (!this.#identity && (!p().claim || !p().template)) {
        // Nothing to provision with: wait for `tern provision --cert --key` (next start) or an upload.
        if (this.#state !== "unprovisioned" || !this.#lastError) {
          ctx.log.warn(
            "No identity and no claim certificate: waiting for one (provision.claim, tern provision --cert --key, or POST /api/provision/identity)",
          );
        }
        this.#state = "unprovisioned";
        this.#lastError = {
          request: "Connect",
          statusCode: 0,
          errorCode: "NoClaim",
          errorMessage:
            "No identity yet and no claim certificate (provision.claim and provision.template)",
          at: new Date(ctx.clock.now()).toISOString(),
        };
        await sleep(MAX_SLEEP);
        continue;
      }
      if (!this.#identity) {
        this.#state = "provisioning";
        this.#attempts++;
        this.#attempt = new AbortController();
        try {
          const id = await runClaim({
            ...deps(),
            signal: AbortSignal.any([life, this.#attempt.signal]),
          });
          this.#identity = this.#ids!.current();
          this.#state = "provisioned";
          this.#lastError = undefined;
          backoff.reset();
          ctx.log.info("Provisioned by claim", {
            thing: id.thing,
            certificateId: id.certificateId,
          });
          this.#result({
            purpose: "claim",
            outcome: "success",
            at: ctx.clock.now(),
            certificateId: id.certificateId,
          });
          this.#audit({
            action: "provision.claim",
            target: `thing:${id.thing}`,
            details: {
              certificateId: id.certificateId,
              attempts: this.#attempts,
              ...this.#validity(),
            },
          });
          this.#ready.resolve();
        } catch (e) {
          if (this.#attempt.signal.aborted && !life.aborted) continue; // installed meanwhile
          await failed("claim", e);
        }
        continue;
      }
      const r = p().rotation;
      const pending = this.#store!.flow()?.purpose === "rotate";
      const due = this.#rotateAt() <= ctx.clock.now() || this.#rotateRequested || pending;
      const mqtt = this.#mqtt();
      if (mqtt) this.#subscribeRequests(mqtt);
      if (r.enabled && due && mqtt) {
        this.#state = "rotating";
        this.#attempts++;
        const current = this.#identity;
        try {
          const out = await runRotation({ ...deps(), mqttService: mqtt, current });
          this.#rotateRequested = false;
          if (out.outcome === "success") {
            this.#identity = this.#ids!.current();
            this.#state = "provisioned";
            this.#lastError = undefined;
            backoff.reset();
            ctx.log.info("Certificate rotated", {
              certificateId: out.identity.certificateId,
              previousCertificateId: current.certificateId,
            });
            this.#result({
              purpose: "rotate",
              outcome: "success",
              at: ctx.clock.now(),
              certificateId: out.identity.certificateId,
            });
            this.#audit({
              action: "provision.rotate",
              target: `thing:${current.thing}`,
              details: {
                certificateId: out.identity.certificateId,
                previousCertificateId: current.certificateId,
                ...this.#validity(),
              },
            });
            this.#rotated({ outcome: "success", certificateId: out.identity.certificateId });
          } else {
            this.#state = "provisioned";
            this.#rotated({ outcome: "rolledBack", error: out.error.message });
            await failed("rotate", out.error, true);
          }
        } catch (e) {
          this.#state = "provisioned";
          this.#rotated({ outcome: "failure", error: (e as Error)?.message ?? String(e) });
          await failed("rotate", e);
        }
        continue;
      }
      this.#state = "provisioned";
      let wait = !r.enabled || due ? MAX_SLEEP : this.#rotateAt() - ctx.clock.now();
      // Without the MQTT service yet, look again soon (it starts after this one).
      if (!mqtt || this.#requestClient !== mqtt.client) wait = Math.min(wait, MQTT_POLL);
      await sleep(Math.min(wait, MAX_SLEEP));
    }
  }

  /** ms since epoch when the certificate in force is due for rotation. */
  #rotateAt(): number {
    const id = this.#identity;
    if (!id) return Infinity;
    const { notBefore, notAfter } = certInfo(id.certPem);
    return notBefore + this.#ctx.config.provision.rotation.at * (notAfter - notBefore);
  }

  #validity(): Record<string, string> {
    const id = this.#identity;
    if (!id) return {};
    const { notAfter } = certInfo(id.certPem);
    const next = this.#rotateAt();
    return {
      notAfter: new Date(notAfter).toISOString(),
      ...(Number.isFinite(next) ? { nextRotation: new Date(next).toISOString() } : {}),
    };
  }

  #mqtt(): (IdentityUser & Service) | undefined {
    try {
      return this.#ctx.get<IdentityUser & Service>("mqtt");
    } catch {
      return undefined;
    }
  }

  #subscribeRequests(mqtt: IdentityUser): void {
    const client = mqtt.client;
    if (this.#requestClient === client) return;
    this.#requestClient = client;
    client.subscribe(this.#ctx.config.provision.rotation.requestTopic, () => {
      this.#ctx.log.info("Certificate rotation requested by the cloud");
      this.rotateNow();
    }).catch((e) => {
      this.#requestClient = undefined;
      this.#ctx.log.warn("Subscribing to rotation requests failed", { error: String(e) });
    });
  }

  #result(r: FlowResult): void {
    try {
      this.#store?.saveResult(r);
    } catch (e) {
      this.#ctx.log.warn("Recording the provisioning result failed", { error: String(e) });
    }
  }

  #audit(e: Omit<AuditRecord, "actor"> & { actor?: AuditRecord["actor"] }): void {
    try {
      this.#ctx.get<{ record(e: AuditRecord): unknown } & Service>("audit").record({
        actor: { type: "agent", id: this.#ctx.deviceId },
        ...e,
      } as AuditRecord);
    } catch (err) {
      this.#ctx.log.debug("Audit event not recorded", { action: e.action, error: String(err) });
    }
  }

  status(): Record<string, unknown> {
    const id = this.#identity;
    const flow = this.#store?.flow();
    return {
      state: this.#state,
      ...(id ? { thing: id.thing, certificateId: id.certificateId } : {}),
      ...this.#validity(),
      ...(flow ? { flow: { purpose: flow.purpose, step: flow.step } } : {}),
      attempts: this.#attempts,
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
      ...(this.#nextAttemptAt
        ? { nextAttemptAt: new Date(this.#nextAttemptAt).toISOString() }
        : {}),
      ...(this.#store?.result() ? { lastResult: this.#store.result() } : {}),
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#rotated({ outcome: "failure", error: "the agent is stopping" });
    this.#life.abort(new DOMException("Stopping", "AbortError"));
    await this.#loop?.catch(() => {});
  }
}

/**
 * The "identity" service: running once the device has an identity, so
 * that "mqtt" (and what depends on it) starts with it. Started in the
 * background: the agent does not wait for it.
 */
export class IdentityGate implements Service {
  readonly #ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
  }

  async start(signal: AbortSignal): Promise<void> {
    await this.#ctx.get<ProvisionService>("provision").ready(signal);
  }

  status(): Record<string, unknown> {
    const id = this.#ctx.get<ProvisionService>("provision").identity();
    return id ? { thing: id.thing, certificateId: id.certificateId } : {};
  }

  [Symbol.asyncDispose](): Promise<void> {
    return Promise.resolve();
  }
}

export const provisionService: ServiceFactory = {
  name: "provision",
  deps: ["database"],
  enabled: (c) => c.provision.enabled,
  create: (ctx) => new ProvisionService(ctx),
};

export const identityService: ServiceFactory = {
  name: "identity",
  deps: ["provision"],
  background: true,
  enabled: (c) => c.provision.enabled,
  create: (ctx) => new IdentityGate(ctx),
};
