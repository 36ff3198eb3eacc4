/**
 * Least-privilege shim for npm packages that read the environment at import
 * time. Under a scoped `--allow-env=A,B`, Deno throws NotCapable when code
 * reads any other variable or enumerates `process.env`; `npm:mqtt`'s
 * dependencies do both on load (`debug` runs `Object.keys(process.env)`,
 * `readable-stream` reads READABLE_STREAM, mqtt reads MQTTJS_SOCKS_PROXY).
 *
 * When the process lacks full env access, this replaces `process.env` with a
 * view that returns granted variables, `undefined` for the others (as if
 * unset) and enumerates nothing; writes to granted variables pass through,
 * others stay in a local overlay. Imported by `lib/services.ts`, so it is in
 * place before any cloud service loads its npm packages (mqtt, AWS SDK).
 */

import process from "node:process";

const SAFE = Symbol.for("tern.safeProcessEnv");

function _granted(name: string): boolean {
  try {
    return Deno.permissions.querySync({ name: "env", variable: name }).state === "granted";
  } catch {
    return false;
  }
}

function _install(): void {
  if (Deno.permissions.querySync({ name: "env" }).state === "granted") return;
  const original = process.env;
  if ((globalThis as { [SAFE]?: boolean })[SAFE]) return;
  (globalThis as { [SAFE]?: boolean })[SAFE] = true;
  // Writes to variables we may not touch stay local to this process view.
  const local = new Map<string, string>();
  const safe = new Proxy({} as Record<string, string | undefined>, {
    get: (_t, k) => {
      if (typeof k !== "string") return undefined;
      if (local.has(k)) return local.get(k);
      return _granted(k) ? original[k] : undefined;
    },
    has: (_t, k) =>
      typeof k === "string" && (local.has(k) || (_granted(k) && original[k] !== undefined)),
    ownKeys: () => [...local.keys()],
    getOwnPropertyDescriptor: (_t, k) =>
      typeof k === "string" && local.has(k)
        ? { value: local.get(k), writable: true, enumerable: true, configurable: true }
        : undefined,
    set: (_t, k, v) => {
      if (typeof k !== "string") return true;
      if (_granted(k)) original[k] = String(v);
      else local.set(k, String(v));
      return true;
    },
    deleteProperty: (_t, k) => {
      if (typeof k !== "string") return true;
      local.delete(k);
      if (_granted(k)) delete original[k];
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

_install();
