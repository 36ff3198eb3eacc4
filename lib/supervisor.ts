/**
 * Supervision of one service: create, start, watch, and on failure dispose and
 * start a fresh instance after a full-jitter backoff. A failure of a
 * dependency stops the service (no backoff penalty) until the dependency runs
 * again. One failing service never takes the agent down.
 *
 * States: waiting (for dependencies) → starting → running → failed/stopping → stopped.
 */

import { Backoff } from "./backoff.ts";
import type { Clock } from "./clock.ts";
import type { Logger } from "./log/mod.ts";
import {
  isPermanent,
  type Service,
  type ServiceContext,
  type ServiceFactory,
  type ServiceState,
} from "./service.ts";

/** Options of {@linkcode Supervised}. */
export interface SupervisedOptions {
  factory: ServiceFactory;
  /** Builds the context handed to the factory (with `fail` bound to this supervisor). */
  context: (fail: (e: unknown) => void) => ServiceContext;
  clock: Clock;
  log: Logger;
  /** Restart backoff in ms. */
  restart: { min: number; max: number };
  /** Random source for jitter. @default Math.random */
  random?: () => number;
  /** Supervisors of the dependencies. */
  deps: Supervised[];
  /** Called on every state change. */
  onChange: () => void;
  /** Time allowed for one dispose, in ms. @default 10000 */
  disposeTimeout?: number;
}

const DEP_STOPPED = Symbol("dependency stopped");

export class Supervised {
  readonly name: string;
  readonly factory: ServiceFactory;
  /** The error of a permanent failure (not retried). */
  permanentError: unknown;
  instance: Service | undefined;
  #o: SupervisedOptions;
  #state: ServiceState;
  #backoff: Backoff;
  #stop = new AbortController();
  #failNow: ((reason: unknown) => void) | undefined;
  #loop: Promise<void> | undefined;
  #firstSettled!: Promise<void>;
  #settle!: () => void;

  constructor(options: SupervisedOptions) {
    this.#o = options;
    this.name = options.factory.name;
    this.factory = options.factory;
    this.#state = { name: this.name, state: "waiting", since: options.clock.now(), restarts: 0 };
    this.#backoff = new Backoff({ ...options.restart, random: options.random });
    this.#firstSettled = new Promise((r) => this.#settle = r);
  }

  /** The state with the service's own `status()` as `details` (see {@linkcode brief}). */
  get state(): ServiceState {
    const s = { ...this.#state };
    if (s.state === "running" && this.instance?.status) {
      try {
        s.details = this.instance.status();
      } catch { /* a status() bug must not break /api/status */ }
    }
    return s;
  }

  /**
   * The state without `details`: what a health check needs, without the work a service's
   * `status()` may do (the database's counts its change log and cursors in SQLite).
   */
  get brief(): ServiceState {
    return { ...this.#state };
  }

  /** Resolves once the first start attempt succeeded or failed. */
  get settled(): Promise<void> {
    return this.#firstSettled;
  }

  /** True when every dependency is running. */
  depsRunning(): boolean {
    return this.#o.deps.every((d) => d.#state.state === "running");
  }

  /** Begin supervising. */
  run(): void {
    this.#loop ??= this.#run();
  }

  /** Called by a dependency that left the running state. */
  dependencyStopped(dep: string): void {
    if (this.#state.state === "running" || this.#state.state === "starting") {
      this.#failNow?.(
        Object.assign(new Error(`Dependency "${dep}" stopped`), { [DEP_STOPPED]: true }),
      );
    }
  }

  /** Stop supervising and dispose the running instance. */
  async stop(): Promise<void> {
    this.#stop.abort(new DOMException("Agent stopping", "AbortError"));
    this.#failNow?.(this.#stop.signal.reason);
    await this.#loop;
    this.#set("stopped");
  }

  #set(state: ServiceState["state"], error?: unknown): void {
    this.#state = {
      ...this.#state,
      state,
      since: this.#o.clock.now(),
      ...(error !== undefined ? { lastError: _message(error) } : {}),
    };
    this.#o.onChange();
  }

  async #waitDeps(signal: AbortSignal): Promise<void> {
    while (!this.depsRunning()) {
      if (this.#state.state !== "waiting") this.#set("waiting");
      await new Promise<void>((resolve) => {
        const done = () => resolve();
        this.#wake = done;
        signal.addEventListener("abort", done, { once: true });
      });
      if (signal.aborted) return;
    }
  }

  #wake: (() => void) | undefined;

  /** Nudge a service waiting for its dependencies to look again. */
  poke(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      await this.#waitDeps(signal);
      if (signal.aborted) break;
      this.#set("starting");
      const attempt = new AbortController();
      const failed = new Promise<unknown>((resolve) => this.#failNow = resolve);
      let reason: unknown;
      let runningSince: number | undefined;
      try {
        const ctx = this.#o.context((e) => this.#failNow?.(e ?? new Error("Service failed")));
        this.instance = await this.#o.factory.create(ctx);
        const started = this.instance.start(AbortSignal.any([signal, attempt.signal]));
        reason = await Promise.race([started.then(() => undefined), failed]);
        if (reason === undefined) {
          runningSince = this.#o.clock.now();
          this.#set("running");
          this.#o.log.info("Service running", { service: this.name });
          this.#settle();
          reason = await failed;
        }
      } catch (e) {
        reason = e;
      }
      this.#failNow = undefined;
      attempt.abort(reason);
      const stopping = signal.aborted;
      const depStop = (reason as Record<symbol, unknown>)?.[DEP_STOPPED] === true;
      if (!stopping && !depStop) {
        this.#o.log.error("Service failed", { service: this.name, error: reason });
      }
      this.#set(
        stopping ? "stopping" : depStop ? "waiting" : "failed",
        stopping || depStop ? undefined : reason,
      );
      await this.#dispose();
      const permanent = !stopping && !depStop && isPermanent(reason);
      if (permanent) this.permanentError = reason;
      this.#settle();
      if (stopping) break;
      if (permanent) {
        // Retrying cannot fix it: stay failed until the agent stops.
        this.#o.log.error("Service failed permanently; not restarting", { service: this.name });
        await new Promise((r) => signal.addEventListener("abort", r, { once: true }));
        break;
      }
      if (!depStop) {
        // A service that ran longer than the backoff cap earns a fresh backoff.
        if (
          runningSince !== undefined && this.#o.clock.now() - runningSince >= this.#o.restart.max
        ) {
          this.#backoff.reset();
        }
        const delay = this.#backoff.next();
        this.#state.restarts++;
        this.#o.log.info("Service restart scheduled", { service: this.name, delayMs: delay });
        try {
          await this.#o.clock.sleep(delay, signal);
        } catch {
          break;
        }
      }
    }
  }

  async #dispose(): Promise<void> {
    const inst = this.instance;
    this.instance = undefined;
    if (!inst) return;
    const timeout = this.#o.disposeTimeout ?? 10_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        inst[Symbol.asyncDispose](),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`Stop took longer than ${timeout} ms`)),
            timeout,
          );
        }),
      ]);
    } catch (e) {
      this.#o.log.error("Service did not stop cleanly", { service: this.name, error: e });
    } finally {
      clearTimeout(timer);
    }
  }
}

function _message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
