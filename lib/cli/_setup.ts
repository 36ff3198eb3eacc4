/**
 * Shared steps of the commands: resolve the config directory from flags and
 * env, load it, and build the log hub (console + rotating file + ring) the
 * config asks for.
 */

import { resolve } from "../path.ts";
import { loadConfig, type LoadedConfig, safeEnv } from "../config/mod.ts";
import { ConsoleSink, type Level, LEVELS, LogHub, RingSink, RotatingFileSink } from "../log/mod.ts";
import { ensureStateDir } from "../state.ts";
import { type GlobalFlags, UsageError } from "./_command.ts";

/** Load the config named by `--config`/TERN_CONFIG (default ./config, optional). */
export function loadFromFlags(flags: GlobalFlags): LoadedConfig {
  const dir = flags.config ?? safeEnv("TERN_CONFIG");
  const state = flags.state ?? safeEnv("TERN_STATE");
  if (flags.logLevel !== undefined && !(LEVELS as readonly string[]).includes(flags.logLevel)) {
    throw new UsageError(
      `Invalid --log-level "${flags.logLevel}": expected one of ${LEVELS.join(", ")}`,
    );
  }
  return loadConfig({
    dir: dir ?? "config",
    required: dir !== undefined,
    ...(flags.profile !== undefined ? { profile: flags.profile } : {}),
    overrides: {
      "log.level": flags.logLevel,
      "agent.state": state === undefined ? undefined : resolve(state),
    },
  });
}

/** The hub with the sinks `loaded.config.log` asks for; the file sink lives in the state dir. */
export function buildLogHub(loaded: LoadedConfig): { hub: LogHub; ring: RingSink } {
  const log = loaded.config.log;
  const ring = new RingSink(log.ring);
  const hub = new LogHub({
    level: log.level as Level,
    sources: log.sources,
    sinks: [new ConsoleSink({ format: log.format }), ring],
  });
  for (const s of loaded.secrets) hub.redactor.add(s);
  if (log.file) {
    const path = resolve(loaded.stateDir, log.file.path);
    ensureStateDir(loaded.stateDir);
    Deno.mkdirSync(resolve(path, ".."), { recursive: true, mode: 0o700 });
    hub.addSink(
      new RotatingFileSink({ path, maxSize: log.file.maxSize, maxFiles: log.file.maxFiles }),
    );
  }
  return { hub, ring };
}
