/**
 * What the device's routes (routes/api/*) get to do their work. The web
 * service builds it from the agent's context; tests build it by hand with a
 * real database.
 */

import type { Clock } from "../clock.ts";
import type { Config } from "../config/mod.ts";
import type { Database } from "../db/mod.ts";
import type { Logger, RingSink } from "../log/mod.ts";
import type { ServiceState } from "../service.ts";
import type { WebApp } from "./app.ts";
import type { SessionAuth } from "./auth/sessions.ts";
import type { LoginThrottle } from "./auth/throttle.ts";
import type { StaticSite } from "./static.ts";

/** Where /api/status and /api/health read the services' states (the agent implements it). */
export interface StatusSource {
  services(): ServiceState[];
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
  /** Run when the service stops (routes detach from the database here). */
  closers?: (() => void)[];
}
