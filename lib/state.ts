/**
 * The state directory: everything the agent writes (database, sessions, logs,
 * generated device id). Created 0700; secret files are written 0600,
 * atomically (temp file + fsync + rename) so a power cut leaves either the old
 * or the new content, never a torn file.
 *
 * Files: `device-id` (the generated id when config has none).
 */

import { join } from "./path.ts";

/** Create `dir` (and parents) with mode 0700; tighten an existing one that is looser. */
export function ensureStateDir(dir: string): void {
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mode = Deno.statSync(dir).mode;
  if (mode !== null && (mode & 0o077) !== 0) Deno.chmodSync(dir, 0o700);
}

/** Write `data` to `path` with mode 0600, atomically. */
export function writeSecretFile(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const file = Deno.openSync(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
  try {
    let off = 0;
    while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
    file.syncSync();
  } finally {
    file.close();
  }
  Deno.chmodSync(tmp, 0o600);
  Deno.renameSync(tmp, path);
}

/**
 * The device id: `configured` when given, else the id generated at first start
 * and kept in `<stateDir>/device-id`.
 */
export function deviceId(stateDir: string, configured: string | undefined): string {
  if (configured) return configured;
  const path = join(stateDir, "device-id");
  try {
    const id = Deno.readTextFileSync(path).trim();
    if (/^[A-Za-z0-9_.:-]{1,128}$/.test(id)) return id;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const id = `tern-${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  writeSecretFile(path, id + "\n");
  return id;
}
