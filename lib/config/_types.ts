/**
 * Shared pieces of the config sections: the permission needs each section
 * contributes, and small schema helpers used by every section.
 */

import * as z from "../validate/mod.ts";

/** What a section needs from Deno's permission system. Paths are absolute. */
export interface PermissionNeeds {
  /** `host:port` entries for --allow-net. */
  net: string[];
  /** Paths for --allow-read. */
  read: string[];
  /** Paths for --allow-write. */
  write: string[];
  /** Variable names for --allow-env. */
  env: string[];
  /** Names for --allow-sys (e.g. "hostname", "osRelease"). */
  sys: string[];
  /** Programs for --allow-run (e.g. "journalctl"). @default [] */
  run?: string[];
}

/** Where relative paths in config are resolved. */
export interface PathBase {
  /** Absolute config directory (may not exist: embedded default). */
  configDir: string;
  /** Absolute state directory. */
  stateDir: string;
}

/** A duration in ms: a non-negative integer. */
export const ms = () => z.number().int().nonnegative();

/** A size in bytes: a non-negative integer. */
export const bytes = () => z.number().int().nonnegative();

/** A TCP port. */
export const port = () => z.number().int().min(1).max(65535);
