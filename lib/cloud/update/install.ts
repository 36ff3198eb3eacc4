/**
 * A/B install of a verified binary, and its rollback (docs/update.md). Files
 * beside the binary `BIN` (same directory, so every rename is atomic):
 *
 * | file        | what                                                        |
 * |-------------|-------------------------------------------------------------|
 * | `BIN.next`  | the new binary, written and fsynced before the swap         |
 * | `BIN.prev`  | the previous binary (a hard link, else a copy), kept        |
 *
 * and in `STATE/update/` (the guard `deploy/systemd/tern-guard.sh` reads them):
 *
 * | file       | what                                                          |
 * |------------|---------------------------------------------------------------|
 * | `pending`  | a trial of a new binary is under way (`job=`, `version=` lines) |
 * | `boots`    | one byte per start of the trial binary (the guard appends)    |
 * | `rollback` | the previous binary was restored: `job=`, `reason=` lines      |
 *
 * Steps, each idempotent and each recorded in SQLite before the next:
 * `stage` (write BIN.next) → `keep` (BIN → BIN.prev) → `mark` (write
 * `pending`) → `swap` (rename BIN.next → BIN). A `kill -9` anywhere leaves
 * either the old binary in place (before the swap) or the new one with
 * `pending` written, which the guard counts and rolls back after
 * `maxBoots` starts that never became healthy.
 */

import { dirname, join } from "../../path.ts";

export type InstallStep = "stage" | "keep" | "mark" | "swap";

export interface Markers {
  pending?: { job: string; version: string };
  rollback?: { job: string; reason: string };
  boots: number;
}

export class Installer {
  readonly bin: string;
  readonly dir: string;

  constructor(options: { bin: string; stateDir: string }) {
    this.bin = options.bin;
    this.dir = join(options.stateDir, "update");
  }

  get next(): string {
    return this.bin + ".next";
  }
  get prev(): string {
    return this.bin + ".prev";
  }

  async ensureDir(): Promise<void> {
    await Deno.mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  /** Write `file` to BIN.next, executable and fsynced. */
  async stage(file: string): Promise<void> {
    const tmp = this.bin + ".next.tmp";
    await _copy(file, tmp, 0o755);
    await Deno.rename(tmp, this.next);
    await _syncDir(dirname(this.bin));
  }

  /** Keep the running binary as BIN.prev (before the swap only). */
  async keep(): Promise<void> {
    const tmp = this.bin + ".prev.tmp";
    await Deno.remove(tmp).catch(() => {});
    try {
      await Deno.link(this.bin, tmp);
    } catch {
      await _copy(this.bin, tmp, 0o755);
    }
    await Deno.rename(tmp, this.prev);
    await _syncDir(dirname(this.bin));
  }

  /** Record that a trial of `version` begins (the guard's boot counter starts at 0). */
  async mark(job: string, version: string): Promise<void> {
    await this.ensureDir();
    await Deno.remove(join(this.dir, "boots")).catch(() => {});
    await Deno.remove(join(this.dir, "rollback")).catch(() => {});
    await _writeAtomic(join(this.dir, "pending"), `job=${job}\nversion=${version}\n`);
  }

  /** Move BIN.next over BIN (nothing to do when that already happened). */
  async swap(): Promise<void> {
    try {
      await Deno.rename(this.next, this.bin);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    await _syncDir(dirname(this.bin));
  }

  /** Put BIN.prev back over BIN and say why (for the agent that starts next). */
  async restore(
    job: string,
    reason: string,
    beforeCopy?: () => Promise<void> | void,
  ): Promise<void> {
    await this.ensureDir();
    await _writeAtomic(
      join(this.dir, "rollback"),
      `job=${job}\nreason=${reason.replace(/\s+/g, " ")}\n`,
    );
    await beforeCopy?.();
    const tmp = this.bin + ".rollback";
    await _copy(this.prev, tmp, 0o755);
    await Deno.rename(tmp, this.bin);
    await _syncDir(dirname(this.bin));
    await this.endTrial();
  }

  /** The trial is over (healthy, or rolled back): remove `pending` and `boots`. */
  async endTrial(): Promise<void> {
    await Deno.remove(join(this.dir, "pending")).catch(() => {});
    await Deno.remove(join(this.dir, "boots")).catch(() => {});
    await _syncDir(this.dir).catch(() => {});
  }

  /** The rollback note was read and reported. */
  async clearRollback(): Promise<void> {
    await Deno.remove(join(this.dir, "rollback")).catch(() => {});
  }

  /** Remove a staged binary that will not be installed. */
  async discard(): Promise<void> {
    await Deno.remove(this.next).catch(() => {});
    await Deno.remove(this.bin + ".next.tmp").catch(() => {});
  }

  async markers(): Promise<Markers> {
    const read = async (name: string) => {
      try {
        return _lines(await Deno.readTextFile(join(this.dir, name)));
      } catch {
        return undefined;
      }
    };
    const p = await read("pending");
    const r = await read("rollback");
    let boots = 0;
    try {
      boots = (await Deno.stat(join(this.dir, "boots"))).size;
    } catch { /* none */ }
    return {
      ...(p?.job ? { pending: { job: p.job, version: p.version ?? "" } } : {}),
      ...(r?.job ? { rollback: { job: r.job, reason: r.reason ?? "rolled back" } } : {}),
      boots,
    };
  }
}

function _lines(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

async function _copy(from: string, to: string, mode: number): Promise<void> {
  await Deno.remove(to).catch(() => {});
  using src = await Deno.open(from, { read: true });
  using dst = await Deno.open(to, { write: true, create: true, truncate: true, mode });
  const buf = new Uint8Array(1024 * 1024);
  for (;;) {
    const n = await src.read(buf);
    if (n === null) break;
    let w = 0;
    while (w < n) w += await dst.write(buf.subarray(w, n));
  }
  await dst.sync();
  await Deno.chmod(to, mode);
}

async function _writeAtomic(path: string, text: string): Promise<void> {
  const tmp = path + ".tmp";
  {
    using f = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
    await f.write(new TextEncoder().encode(text));
    await f.sync();
  }
  await Deno.rename(tmp, path);
  await _syncDir(dirname(path));
}

async function _syncDir(dir: string): Promise<void> {
  try {
    using d = await Deno.open(dir, { read: true });
    await d.sync();
  } catch { /* not every file system syncs a directory */ }
}
