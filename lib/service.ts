/**
 * The service contract. The agent builds each service from config through a
 * `ServiceFactory`, starts them in dependency order and stops them in reverse.
 *
 * A service:
 * - `start(signal)` resolves once it is ready (listening, connected, open);
 *   it must not block for the service's lifetime. `signal` aborts on stop.
 * - reports a failure after start through `ctx.fail(error)`; the supervisor
 *   then disposes it and starts a fresh instance with backoff — unless the
 *   error is permanent (`isPermanent()`: retrying cannot fix it).
 * - `[Symbol.asyncDispose]()` stops it and drains in-flight work; it is called
 *   once, also after a failed start, and must not throw.
 * - `reload(config, changed)` (optional) applies a new config live (SIGHUP);
 *   `changed` lists the dotted key paths that differ; it returns the paths it
 *   applied. The agent logs the others as needing a restart.
 */

import type { Clock } from "./clock.ts";
import type { Config } from "./config/mod.ts";
import type { Logger, LogHub, Redactor, RingSink } from "./log/mod.ts";
import type { MetricFamily, MetricsRegistry } from "./metrics/mod.ts";

export interface Service {
  start(signal: AbortSignal): Promise<void>;
  reload?(config: Config, changed: string[]): string[] | Promise<string[]>;
  /** Extra status for `/api/status` (queue depth, connections…). */
  status?(): Record<string, unknown>;
  /**
   * The service's own metric series, collected into the agent's registry
   * (lib/metrics) while it runs: `/metrics` and CloudWatch metrics.
   */
  metricFamilies?(): MetricFamily[];
  [Symbol.asyncDispose](): Promise<void>;
}

/** Lifecycle state of one supervised service. */
export type ServiceStateName =
  | "waiting"
  | "starting"
  | "running"
  | "failed"
  | "stopping"
  | "stopped";

/** What `/api/status` and `/api/health` show per service. */
export interface ServiceState {
  name: string;
  state: ServiceStateName;
  /** ms since epoch of the last state change. */
  since: number;
  /** Restarts after failures. */
  restarts: number;
  /** Message of the last failure (redacted). */
  lastError?: string;
  /** The service's own `status()`, when it has one and is running. */
  details?: Record<string, unknown>;
}

/** What a factory gets to build its service. */
export interface ServiceContext {
  /** The current config (a getter: reflects reloads). */
  readonly config: Config;
  readonly log: Logger;
  readonly clock: Clock;
  /** The agent's state directory (0700). */
  readonly stateDir: string;
  /** The config directory: relative paths in config (certificates…) resolve from here. */
  readonly configDir: string;
  /** A started dependency by name (throws when it is not running). */
  get<T extends Service>(name: string): T;
  /** Report a failure after start: the supervisor restarts the service with backoff. */
  fail(error: unknown): void;
  /** Every service's state (for /api/status, /api/health). */
  states(details?: boolean): ServiceState[];
  /** Call `listener` after every change of a service's state; returns the unsubscribe. */
  onStates?(listener: () => void): () => void;
  /** Recent log records (for /api/logs). */
  readonly logs: RingSink;
  /** Register secrets obtained at run time so they never reach a log. */
  readonly redactor: Redactor;
  /** The agent's log hub, for services that add a sink (the CloudWatch agent log). */
  readonly hub?: LogHub;
  /** The device id (from config or generated at first start). */
  readonly deviceId: string;
  /** The agent's one metrics registry (`/metrics`, CloudWatch metrics). */
  readonly metrics?: MetricsRegistry;
}

/** How the agent builds one service. */
export interface ServiceFactory {
  /** Unique name, also the log source. */
  readonly name: string;
  /** Services that must be running first. @default [] */
  readonly deps?: readonly string[];
  /**
   * The agent does not wait for its first start at start-up (a start that
   * may take a long time, like waiting for the device's identity). @default false
   */
  readonly background?: boolean;
  /** Whether the config turns this service on. */
  enabled(config: Config): boolean;
  create(ctx: ServiceContext): Service | Promise<Service>;
}

/**
 * A problem with the configuration a service found when it started: permanent
 * (`isPermanent()`), so the agent does not retry it; the message says what to set.
 */
export class ServiceConfigError extends Error {
  override name = "ConfigError";
  readonly permanent = true;
}

/**
 * True when `error` cannot be fixed by restarting the service (it says so with
 * `permanent: true`, e.g. an incompatible schema change). Such a failure is
 * not retried: at start the agent exits 78; later the service stays failed.
 */
export function isPermanent(error: unknown): boolean {
  return typeof error === "object" && error !== null &&
    (error as { permanent?: unknown }).permanent === true;
}

/** What the "provision" service (lib/cloud/provision) offers other services: the device's identity. */
export interface IdentitySource extends Service {
  /** The identity in force, or undefined before the first. */
  identity(): { certPem: string; keyPem: string; thing: string } | undefined;
}

/**
 * The AWS IoT thing `{thing}` names in cloud names (log streams, metric
 * dimensions, S3 keys, the audit stream): the provisioned identity's when
 * `identity` gives one, else `device.thing`, else the device id.
 */
export function thingName(config: Config, deviceId: string, identity?: { thing: string }): string {
  return identity?.thing ?? config.device.thing ?? config.device.id ?? deviceId;
}

/**
 * {@linkcode thingName} for a service now (with provisioning on, the
 * "provision" service must be running: list it in `deps`).
 */
export function serviceThing(ctx: ServiceContext): string {
  const identity = ctx.config.provision.enabled
    ? ctx.get<IdentitySource>("provision").identity()
    : undefined;
  return thingName(ctx.config, ctx.deviceId, identity);
}
