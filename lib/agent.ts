/**
 * The agent: builds the enabled services from config, starts them in
 * dependency order under supervision, stops them in reverse within
 * `agent.stopTimeout`, and applies a reloaded config (SIGHUP) live where it
 * can.
 *
 * ```ts
 * await using agent = await Agent.start({ loaded, factories: SERVICES }); // services.ts
 * agent.states(); // [{ name: "database", state: "running", restarts: 0, … }]
 * ```
 */

import { type Clock, systemClock } from "./clock.ts";
import type { Config, LoadedConfig } from "./config/mod.ts";
import { type Logger, LogHub, RingSink } from "./log/mod.ts";
import type { Service, ServiceContext, ServiceFactory, ServiceState } from "./service.ts";
import { deviceId, ensureStateDir } from "./state.ts";
import { Supervised } from "./supervisor.ts";
import { MetricsRegistry, processFamilies } from "./metrics/mod.ts";
import { agentFamilies } from "./metrics/agent.ts";
import { spoolFamilies, spoolStreamsOf } from "./cloud/spool_metrics.ts";
import type { AuditService } from "./cloud/audit/service.ts";
import type { AuditRecord } from "./cloud/audit/trail.ts";

/** Options of {@linkcode Agent.start}. */
export interface AgentOptions {
  loaded: LoadedConfig;
  /** The services to run (the app's list: `SERVICES` of services.ts at the repository root). */
  factories: ServiceFactory[];
  /** @default systemClock */
  clock?: Clock;
  /** Log hub (sinks already attached). @default a hub with only a ring */
  hub?: LogHub;
  /** Ring of recent log records. @default a new RingSink of config.log.ring added to the hub */
  ring?: RingSink;
  /** Random source for restart jitter. @default Math.random */
  random?: () => number;
}

/** Order factories so each comes after its dependencies; disabled or unknown deps are skipped. */
export function startOrder(factories: ServiceFactory[]): ServiceFactory[] {
  const byName = new Map(factories.map((f) => [f.name, f]));
  const out: ServiceFactory[] = [];
  const mark = new Map<string, "visiting" | "done">();
  const visit = (f: ServiceFactory, chain: string[]) => {
    if (mark.get(f.name) === "done") return;
    if (mark.get(f.name) === "visiting") {
      throw new Error(`Service dependency cycle: ${[...chain, f.name].join(" → ")}`);
    }
    mark.set(f.name, "visiting");
    for (const d of f.deps ?? []) {
      const dep = byName.get(d);
      if (dep) visit(dep, [...chain, f.name]);
    }
    mark.set(f.name, "done");
    out.push(f);
  };
  for (const f of factories) visit(f, []);
  return out;
}

export class Agent implements AsyncDisposable {
  readonly hub: LogHub;
  readonly ring: RingSink;
  readonly log: Logger;
  readonly clock: Clock;
  readonly deviceId: string;
  /**
   * The one metrics registry: the process, every service's own series
   * (`metricFamilies()`), restarts, the spool streams. `/metrics` renders it;
   * CloudWatch metrics sample it.
   */
  readonly metrics: MetricsRegistry = new MetricsRegistry();
  #loaded: LoadedConfig;
  #supervised: Supervised[] = [];
  /** Told of every service's state change (`onStates`). */
  readonly #stateListeners = new Set<() => void>();
  /** `onService` setups by service name, and the instances each has run on. */
  readonly #setups = new Map<string, Set<_Setup>>();
  #stopped: Promise<boolean> | undefined;

  private constructor(options: AgentOptions) {
    this.#loaded = options.loaded;
    this.clock = options.clock ?? systemClock;
    this.hub = options.hub ?? new LogHub({ level: options.loaded.config.log.level });
    this.ring = options.ring ?? new RingSink(options.loaded.config.log.ring);
    if (!options.ring) this.hub.addSink(this.ring);
    for (const s of options.loaded.secrets) this.hub.redactor.add(s);
    this.log = this.hub.logger("agent");
    ensureStateDir(options.loaded.stateDir);
    this.deviceId = deviceId(options.loaded.stateDir, options.loaded.config.device.id);
    this.metrics.register(processFamilies);
    this.metrics.register(() => agentFamilies(this));
    this.metrics.register(() => spoolFamilies(spoolStreamsOf(this.states(true))));
  }

  /** Build and start every enabled service; resolves once each has started or failed once. */
  static async start(options: AgentOptions): Promise<Agent> {
    const agent = new Agent(options);
    await agent.#start(options);
    return agent;
  }

  get config(): Config {
    return this.#loaded.config;
  }

  get loaded(): LoadedConfig {
    return this.#loaded;
  }

  /** State of every service, in start order. */
  /** Every service's state; `details: false` leaves out each service's own `status()`. */
  states(details = true): ServiceState[] {
    return this.#supervised.map((s) => details ? s.state : s.brief);
  }

  /**
   * Call `listener` after every change of a service's state (waiting, starting, running, failed,
   * stopping, stopped), e.g. to rebuild an answer made from `states(false)`. Returns the
   * unsubscribe function.
   */
  onStates(listener: () => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  /**
   * Run `setup` with the service `name` each time it runs: now when it is running, and again
   * on every new instance after a restart (a restart builds a new instance, so routes and
   * handlers registered on the old one are gone with it). The way device code binds its routes
   * and handlers: unlike `get()`, it does not throw while the service is waiting for a
   * dependency or failed, and nothing is lost when it restarts. A setup that throws is logged
   * (the service keeps running). Returns the function that stops it.
   *
   * ```ts
   * agent.onService<WebService>("web", (web) => web.route("POST", "/api/led", handler));
   * ```
   */
  onService<T extends Service>(name: string, setup: (service: T) => void): () => void {
    const entry: _Setup = { run: setup as (s: Service) => void, done: new WeakSet() };
    let set = this.#setups.get(name);
    if (!set) this.#setups.set(name, set = new Set());
    set.add(entry);
    const sup = this.#supervised.find((x) => x.name === name);
    if (sup) this.#runSetups(sup);
    return () => set.delete(entry);
  }

  /** Run the `onService` setups of `sup` that have not run on its current instance yet. */
  #runSetups(sup: Supervised): void {
    const setups = this.#setups.get(sup.name);
    const instance = sup.instance;
    if (!setups || !instance || sup.brief.state !== "running") return;
    for (const s of setups) {
      if (s.done.has(instance)) continue;
      s.done.add(instance);
      try {
        s.run(instance);
      } catch (e) {
        this.log.error("A setup of the service failed", { service: sup.name, error: e });
      }
    }
  }

  /** A running service by name. */
  get<T extends Service>(name: string): T {
    const s = this.#supervised.find((x) => x.name === name);
    if (!s?.instance || s.brief.state !== "running") {
      throw new Error(`Service "${name}" is not running`);
    }
    return s.instance as T;
  }

  async #start(options: AgentOptions): Promise<void> {
    const config = this.config;
    const enabled = options.factories.filter((f) => f.enabled(config));
    const ordered = startOrder(enabled);
    const byName = new Map<string, Supervised>();
    for (const factory of ordered) {
      const deps = (factory.deps ?? []).map((d) => byName.get(d)).filter((d): d is Supervised =>
        !!d
      );
      const log = this.hub.logger(factory.name);
      const sup: Supervised = new Supervised({
        factory,
        clock: this.clock,
        log: this.log,
        restart: config.agent.restart,
        random: options.random,
        deps,
        disposeTimeout: config.agent.stopTimeout,
        onChange: () => this.#changed(sup),
        context: (fail) => this.#context(log, fail),
      });
      byName.set(factory.name, sup);
      this.#supervised.push(sup);
    }
    this.log.debug("Effective configuration", { config, files: this.#loaded.files });
    this.log.info("Agent starting", {
      device: this.deviceId,
      target: Deno.build.target,
      mode: config.agent.mode,
      services: ordered.map((f) => f.name),
    });
    // Start one at a time in dependency order; a service whose dependency failed
    // waits (supervised) and does not hold up the rest.
    for (const s of this.#supervised) {
      s.run();
      if (s.depsRunning() && !s.factory.background) await s.settled;
    }
    const permanent = this.#supervised.find((s) => s.permanentError !== undefined);
    if (permanent) {
      await this.stop();
      throw permanent.permanentError;
    }
    this.log.info("Agent started", {
      states: Object.fromEntries(this.states(false).map((s) => [s.name, s.state])),
    });
    this.#auditStart();
  }

  /**
   * Record an audit event when the "audit" service runs (lib/cloud/audit);
   * a failure to record is logged, never thrown.
   */
  audit(event: AuditRecord): void {
    const s = this.#supervised.find((x) => x.name === "audit");
    if (!s?.instance || s.brief.state !== "running") return;
    try {
      (s.instance as AuditService).record(event);
    } catch (e) {
      this.log.warn("Recording an audit event failed", { action: event.action, error: e });
    }
  }

  /**
   * `agent.start`, after an `agent.crash` when the previous run ended without `agent.stop`:
   * now, or as soon as the audit service first runs when it is not running yet (a dependency
   * still retrying its start), so no start and no crash goes unrecorded.
   */
  #auditStart(): void {
    const s = this.#supervised.find((x) => x.name === "audit");
    if (!s) return;
    const running = () => s.instance !== undefined && s.brief.state === "running";
    if (running()) return this.#recordStart(s);
    const off = this.onStates(() => {
      if (!running()) return;
      off();
      this.#recordStart(s);
    });
  }

  #recordStart(s: Supervised): void {
    try {
      const [last] = (s.instance as AuditService).trail.log.list({
        action: "agent.",
        reverse: true,
        limit: 1,
      });
      if (last && last.action === "agent.start") {
        this.audit({
          actor: { type: "agent", id: this.deviceId },
          action: "agent.crash",
          outcome: "failure",
          details: { previousStart: last.time, note: "the previous run ended without agent.stop" },
        });
      }
    } catch (e) {
      this.log.warn("Reading the audit trail failed", { error: e });
    }
    this.audit({
      actor: { type: "agent", id: this.deviceId },
      action: "agent.start",
      details: {
        mode: this.config.agent.mode,
        target: Deno.build.target,
        files: this.#loaded.files,
        services: this.states(false).map((x) => `${x.name}:${x.state}`),
      },
    });
  }

  #context(log: Logger, fail: (e: unknown) => void): ServiceContext {
    // deno-lint-ignore no-this-alias
    const agent = this;
    return {
      get config() {
        return agent.config;
      },
      log,
      clock: this.clock,
      stateDir: this.#loaded.stateDir,
      configDir: this.#loaded.configDir,
      get: <T extends Service>(name: string) => agent.get<T>(name),
      fail,
      states: (details?: boolean) => agent.states(details),
      onStates: (listener: () => void) => agent.onStates(listener),
      logs: this.ring,
      redactor: this.hub.redactor,
      hub: this.hub,
      deviceId: this.deviceId,
      metrics: this.metrics,
    };
  }

  #changed(sup: Supervised): void {
    // First: a restarted service gets its device code's routes and handlers before anything else
    // hears that it runs (and before the event loop turns, so before its first request).
    this.#runSetups(sup);
    for (const l of this.#stateListeners) {
      try {
        l();
      } catch (e) {
        this.log.warn("A state listener failed", { service: sup.name, error: e });
      }
    }
    const state = sup.brief.state;
    if (state === "failed" && sup.name !== "audit") {
      this.audit({
        actor: { type: "agent", id: this.deviceId },
        action: "agent.service.fail",
        target: `service:${sup.name}`,
        outcome: "failure",
        details: { error: sup.brief.lastError ?? null, restarts: sup.brief.restarts },
      });
    }
    for (const other of this.#supervised) {
      if (other === sup) continue;
      if (state === "running") other.poke();
      else if (other.factory.deps?.includes(sup.name)) other.dependencyStopped(sup.name);
    }
  }

  /**
   * Apply a reloaded config: log levels and redaction live; each service's
   * `reload()` for the rest. Returns the changed paths that need a restart.
   */
  async reload(next: LoadedConfig): Promise<string[]> {
    const changed = diffPaths(this.config, next.config);
    this.#loaded = { ...next, stateDir: this.#loaded.stateDir };
    const applied = new Set<string>();
    this.hub.setLevels(next.config.log.level, next.config.log.sources);
    for (const s of next.secrets) this.hub.redactor.add(s);
    for (const p of changed) if (/^log\.(level|sources|redact)\b/.test(p)) applied.add(p);
    for (const s of this.#supervised) {
      if (!s.instance?.reload || s.brief.state !== "running") continue;
      try {
        for (const p of await s.instance.reload(next.config, changed)) applied.add(p);
      } catch (e) {
        this.log.error("Reload failed", { service: s.name, error: e });
      }
    }
    const rest = changed.filter((p) => !applied.has(p));
    this.audit({
      actor: { type: "agent", id: this.deviceId },
      action: "config.reload",
      details: { changed, applied: [...applied], needRestart: rest, files: next.files },
    });
    this.log.info("Configuration reloaded", { applied: [...applied] });
    if (rest.length) this.log.warn("Some changes need a restart", { keys: rest });
    return rest;
  }

  /** Stop every service in reverse order within `agent.stopTimeout`; true when all stopped in time. */
  stop(): Promise<boolean> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<boolean> {
    const deadline = this.config.agent.stopTimeout;
    this.audit({ actor: { type: "agent", id: this.deviceId }, action: "agent.stop" });
    this.log.info("Agent stopping", { deadlineMs: deadline });
    const work = (async () => {
      for (const s of [...this.#supervised].reverse()) await s.stop();
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const inTime = await Promise.race([
      work.then(() => true),
      new Promise<boolean>((r) => timer = setTimeout(() => r(false), deadline)),
    ]);
    clearTimeout(timer);
    if (inTime) this.log.info("Agent stopped");
    else {
      const stuck = this.states(false).filter((s) => s.state !== "stopped").map((s) => s.name);
      this.log.error("Agent stop deadline passed", { deadlineMs: deadline, stuck });
    }
    return inTime;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** Dotted paths of the leaves that differ between two configs. */
export function diffPaths(a: unknown, b: unknown, prefix = ""): string[] {
  const isObj = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
    return [...keys].flatMap((k) =>
      diffPaths(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        prefix ? `${prefix}.${k}` : k,
      )
    );
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix];
}

/** One `onService` setup and the instances it has run on. */
interface _Setup {
  run: (service: Service) => void;
  done: WeakSet<Service>;
}
