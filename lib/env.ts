/**
 * Reading the environment under least privilege. The agent runs with a
 * scoped `--allow-env=A,B`; under it Deno throws NotCapable when code reads
 * any other variable or enumerates the environment (and prompts on a
 * terminal unless `--no-prompt`).
 *
 * - `readEnv(name)`: the variable, or undefined when it is unset or not
 *   granted; asks the permission state first, so it never throws or prompts.
 *   The default reader of the HTTP client's proxy variables and of
 *   `envCredentials()`.
 * - `safeProcessEnv()`: the same for npm packages that read `process.env` at
 *   import time (`npm:mqtt`'s dependencies: `debug` runs
 *   `Object.keys(process.env)`, `readable-stream` reads READABLE_STREAM, mqtt
 *   reads MQTTJS_SOCKS_PROXY). When the process lacks full env access it
 *   replaces `process.env` with a view that returns granted variables,
 *   `undefined` for the others (as if unset) and enumerates nothing; writes
 *   to granted variables pass through, others stay in a local overlay. Await
 *   it before importing such a package. It loads `node:process` only then,
 *   which a local-mode agent does without (≈ 3.5 MB).
 */

/** Reads one environment variable (undefined when unset or not permitted). */
export type EnvReader = (name: string) => string | undefined;

/** True when the process may read variable `name` (never prompts). */
export function envGranted(name: string): boolean {
  try {
    return Deno.permissions.querySync({ name: "env", variable: name }).state === "granted";
  } catch {
    return false;
  }
}

/** An environment variable, or undefined when it is unset or not permitted. */
export function readEnv(name: string): string | undefined {
  try {
    return envGranted(name) ? Deno.env.get(name) : undefined;
  } catch {
    return undefined;
  }
}

const SAFE = Symbol.for("tern.safeProcessEnv");

/**
 * Make `process.env` safe to read and enumerate under a scoped
 * `--allow-env` (see the module header). Idempotent; a no-op with full env
 * access.
 */
export async function safeProcessEnv(): Promise<void> {
  if (Deno.permissions.querySync({ name: "env" }).state === "granted") return;
  const global = globalThis as { [SAFE]?: boolean };
  if (global[SAFE]) return;
  const { default: process } = await import("node:process");
  if (global[SAFE]) return;
  global[SAFE] = true;
  const original = process.env;
  // Writes to variables we may not touch stay local to this process view.
  const local = new Map<string, string>();
  const safe = new Proxy({} as Record<string, string | undefined>, {
    get: (_t, k) => {
      if (typeof k !== "string") return undefined;
      if (local.has(k)) return local.get(k);
      return envGranted(k) ? original[k] : undefined;
    },
    has: (_t, k) =>
      typeof k === "string" && (local.has(k) || (envGranted(k) && original[k] !== undefined)),
    ownKeys: () => [...local.keys()],
    getOwnPropertyDescriptor: (_t, k) =>
      typeof k === "string" && local.has(k)
        ? { value: local.get(k), writable: true, enumerable: true, configurable: true }
        : undefined,
    set: (_t, k, v) => {
      if (typeof k !== "string") return true;
      if (envGranted(k)) original[k] = String(v);
      else local.set(k, String(v));
      return true;
    },
    deleteProperty: (_t, k) => {
      if (typeof k !== "string") return true;
      local.delete(k);
      if (envGranted(k)) delete original[k];
      return true;
    },
  });
  Object.defineProperty(process, "env", {
    value: safe,
    configurable: true,
    writable: true,
    enumerable: true,
  });
}
