/**
 * What the device's routes (routes/api/*) get to do their work. The web
 * service builds it from the agent's context; tests build it by hand with a
 * real database.
 */

import type { Clock } from "../lib/clock.ts";
import type { Config } from "../lib/config/mod.ts";
import type { Database } from "../lib/db/mod.ts";
import type { Logger, RingSink } from "../lib/log/mod.ts";
import type { ServiceState } from "../lib/service.ts";
import type { MetricsHistory } from "./api/_history.ts";
import type { LoginThrottle, SessionAuth, StaticSite, WebApp } from "../lib/web/mod.ts";

/** Where /api/status and /api/health read the services' states (the agent implements it). */
export interface StatusSource {
  /** Every service's state; `details: false` leaves out their own `status()` (cheap). */
  services(details?: boolean): ServiceState[];
  /**
   * Call `listener` after every change of a service's state (the agent's `onStates`); returns
   * the unsubscribe. Without it, answers made from the states are rebuilt per request.
   */
  changes?(listener: () => void): () => void;
}

/** The one-time first-run setup token (only while no user exists). */
export interface SetupState {
  token: string | undefined;
  /** ms since epoch. */
  expires: number;
}

export interface WebDeps {
  app: WebApp;
  /** The current config (reflects reloads). */
  config(): Config;
  log: Logger;
  clock: Clock;
  /** Absent when the database is disabled: auth, users and data routes are then off. */
  db?: Database;
  auth?: SessionAuth;
  throttle?: LoginThrottle;
  status: StatusSource;
  logs?: RingSink;
  setup: SetupState;
  version: string;
  /** ms since epoch when the web service started. */
  startedAt: number;
  deviceId?: string;
  /** The dashboard served from memory (absent when web.static.enabled is false). */
  site?: StaticSite;
  /** A running service by name, or undefined (routes that front a service: shadows). */
  service?(name: string): unknown;
  /** The dashboard's last hour of metrics, sampled from the agent's registry (`api/_history.ts`). */
  history?: MetricsHistory;
  /** Run when the service stops (routes detach from the database here). */
  closers?: (() => void)[];
}
