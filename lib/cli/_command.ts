/**
 * The shape of a CLI command. Each command lives in its own file under
 * `lib/cli/` and is listed in `lib/cli/mod.ts`.
 *
 * Exit codes (sysexits): 0 ok, 64 usage error, 78 configuration error,
 * 1 failure at run time.
 */

import type { ServiceFactory } from "../service.ts";

export const EXIT = { ok: 0, failure: 1, usage: 64, config: 78 } as const;

/** Global flags shared by every command. */
export interface GlobalFlags {
  /** --config DIR (or TERN_CONFIG) */
  config?: string;
  /** --state DIR (or TERN_STATE) */
  state?: string;
  /** --profile NAME (or TERN_PROFILE) */
  profile?: string;
  /** --log-level LEVEL */
  logLevel?: string;
}

/** Where a command writes: stdout for results, stderr for messages. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

/** What the app gives the CLI: the services `tern run` starts (`services.ts` at the root). */
export interface CliApp {
  services: ServiceFactory[];
}

/** A command's implementation (its one-line summary is in `COMMANDS`, lib/cli/mod.ts). */
export interface Command {
  name: string;
  /** Full text for `tern help NAME` and `NAME --help`. */
  usage: string;
  /**
   * Run with the arguments after the command name (global flags already removed). `app`: what
   * `cli()` was given (only `tern run` needs it).
   */
  run(args: string[], flags: GlobalFlags, io: CliIo, app?: CliApp): Promise<number>;
}

/** A usage error: printed with the command's usage, exit 64. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
