/**
 * Modules imported only when a config needs them (the cloud services) or a
 * command runs (the CLI's commands other than `run`), by a path computed at
 * run time. `deno run` reads, parses and resolves every statically written
 * `import("…")` at start, npm packages included: the cloud services' packages
 * (mqtt, the AWS SDK) then cost a local-mode agent about 2.5 MB it never uses,
 * and the other commands (with the S3, HTTP and AWS code they reach: 44 of
 * the 163 modules read at start) about 1 MB more.
 *
 * - From source, `later("lib/mqtt/mod.ts")` imports the file beside the code;
 *   the process needs read access to it (`laterReadPaths()`, which the
 *   permission derivation adds when a cloud service is on).
 * - A compiled binary's generated entry (deploy/compile.ts) registers every
 *   module of `LATER_MODULES` with `provideLater()` as a statically analyzable
 *   import, so `deno compile` embeds them and nothing is read from disk.
 */

import { fromFileUrl } from "./path.ts";

/** Every module loaded through `later`, relative to the repository root. */
export const LATER_MODULES = [
  "lib/aws/mod.ts",
  "lib/mqtt/mod.ts",
  "lib/cloud/logs/mod.ts",
  "lib/cloud/metrics/mod.ts",
  "lib/cloud/shadow/mod.ts",
  "lib/cloud/s3/mod.ts",
  "lib/cloud/provision/mod.ts",
  "lib/cloud/update/mod.ts",
  "lib/cloud/audit/shipping.ts",
  "sync/mod.ts",
  "sync/status_mod.ts",
  // The CLI's commands (lib/cli/mod.ts), but `run`.
  "lib/cli/audit.ts",
  "lib/cli/cloud.ts",
  "lib/cli/config_commands.ts",
  "lib/cli/db.ts",
  "lib/cli/provision.ts",
  "lib/cli/shadow.ts",
  "lib/cli/sync.ts",
  "lib/cli/update.ts",
  "lib/cli/upload.ts",
  "lib/cli/users.ts",
] as const;

export type LaterModule = typeof LATER_MODULES[number];

const ROOT = new URL("../", import.meta.url);
let _provided: Partial<Record<LaterModule, () => Promise<unknown>>> | undefined;
let _providedReads: string[] = [];

/**
 * Register the importers of a built agent (called by its entry): a compiled
 * binary's (deploy/compile.ts; it reads nothing, so no `reads`) or the bundle's
 * (deploy/agent_entry.ts; its modules are files in `reads`).
 */
export function provideLater(
  importers: Record<LaterModule, () => Promise<unknown>>,
  reads: string[] = [],
): void {
  _provided = importers;
  _providedReads = reads;
}

/** Forget the registered importers (tests). */
export function clearProvidedLater(): void {
  _provided = undefined;
  _providedReads = [];
}

/** Import one of `LATER_MODULES`: `await later<typeof import("./mqtt/mod.ts")>("lib/mqtt/mod.ts")`. */
export function later<T>(module: LaterModule): Promise<T> {
  const provided = _provided?.[module];
  return (provided ? provided() : import(new URL(module, ROOT).href)) as Promise<T>;
}

/** Directories the agent reads the later modules from: the code's, the bundle's, none in a binary. */
export function laterReadPaths(): string[] {
  if (_provided) return [..._providedReads];
  const dirs = new Set(LATER_MODULES.map((m) => m.slice(0, m.indexOf("/"))));
  return [...dirs].map((d) => fromFileUrl(new URL(d, ROOT)));
}
