/**
 * Public types of a shadow: its options, the local copy `get()` returns,
 * its status (→ /api/status) and the desired-state handler.
 */

import type { Clock } from "../../clock.ts";
import type { Logger } from "../../log/mod.ts";
import type { MqttClient } from "../../mqtt/mod.ts";
import type { State } from "./merge.ts";
import type { ShadowRequests } from "./_requests.ts";
import type { Shadow } from "./shadow.ts";
import type { ShadowStore } from "../../db/shadow_store.ts";

export type ShadowDirection = "deviceToCloud" | "cloudToDevice" | "both";

/** Options of {@linkcode Shadow}. */
export interface ShadowOptions {
  mqtt: MqttClient;
  requests: ShadowRequests;
  store: ShadowStore;
  thing: string;
  /** AWS shadow name; undefined is the classic shadow. */
  name?: string;
  /** Name in the config, the API and status. @default name ?? "classic" */
  label?: string;
  /** @default "both" */
  direction?: ShadowDirection;
  /** @default { mode: "change", debounce: 200 } */
  sync?: { mode: "change"; debounce: number } | { mode: "periodic"; interval: number };
  /** Recreate the shadow from the local reported state when it is deleted in the cloud. @default false */
  recreate?: boolean;
  /** Retry delays in ms (full jitter). @default { min: 1000, max: 60000 } */
  backoff?: { min: number; max: number };
  clock: Clock;
  log: Logger;
  random?: () => number;
}

/** What `get()` returns: the local copy. */
export interface ShadowView {
  desired: State;
  reported: State;
  /** Desired fields reported does not match. */
  delta: State;
  /** Cloud version of the last synced document (0: never synced). */
  version: number;
  /** What still has to reach the cloud. */
  pending: { desired?: State; reported?: State };
}

/** Status for /api/status. */
export interface ShadowStatus {
  thing: string;
  shadow: string | null;
  direction: ShadowDirection;
  version: number;
  exists: boolean;
  /** ms since epoch of the last accepted exchange, or null. */
  lastSync: number | null;
  /** Fields waiting to be sent. */
  pending: number;
  updates: number;
  conflicts: number;
  gaps: number;
  /** update/documents echoes of the device's own updates (recognised by clientToken). */
  echoes: number;
  refused: number;
  retries: number;
  lastError?: string;
}

/** A delta handler: its result (an object) becomes the next reported state. */
export type DesiredHandler = (
  delta: State,
  shadow: Shadow,
) => State | void | undefined | Promise<State | void | undefined>;
