/**
 * `openFromFlags`: open the agent's database the way the agent would, from
 * the CLI's global flags (config dir, state dir, profile). Used by `tern db`.
 * The purge loop is off: a CLI run is short and the agent purges.
 */

import { resolve } from "../path.ts";
import { loadConfig, safeEnv } from "../config/mod.ts";
import type { GlobalFlags } from "./_command.ts";
import type { Logger } from "../log/mod.ts";
import { Database } from "../db/mod.ts";

/** Options of {@linkcode openFromFlags}. */
export interface OpenFromFlagsOptions {
  log?: Logger;
  /** Environment reader. @default a safe reader of Deno.env */
  env?: (name: string) => string | undefined;
}

/** Load the config named by the flags and open its database. Throws ConfigError or DbError. */
export function openFromFlags(flags: GlobalFlags, options: OpenFromFlagsOptions = {}): Database {
  const env = options.env ?? safeEnv;
  const dir = flags.config ?? env("TERN_CONFIG");
  const state = flags.state ?? env("TERN_STATE");
  const loaded = loadConfig({
    dir: dir ?? "config",
    required: dir !== undefined,
    ...(flags.profile !== undefined ? { profile: flags.profile } : {}),
    env,
    overrides: { "agent.state": state === undefined ? undefined : resolve(state) },
  });
  const { config } = loaded;
  return Database.open({
    path: resolve(loaded.stateDir, config.database.path),
    schema: config.schema.models,
    synchronous: config.database.synchronous,
    changeLogLimit: config.database.changeLogLimit,
    purgeInterval: 0,
    ...(options.log ? { log: options.log } : {}),
  });
}
