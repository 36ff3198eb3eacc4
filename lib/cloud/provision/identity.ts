/**
 * The device's identity on disk, in `<state>/<provision.dir>` (0700, made
 * by the first write):
 *
 * - `identity.json` (0600): `{ thing, certificateId, cert, key, installedAt,
 *   previousCertificateId? }` — the commit point: `cert` and `key` name the
 *   files of the identity in force.
 * - `cert-ID.pem` (0600) and `key-ID.pem` (0600): one pair per identity,
 *   named after the certificate (a short id), never overwritten.
 * - `key-pending-N.pem` (0600): the key of a flow under way.
 *
 * Every file is written atomically (temp file, fsync, rename: lib/state.ts),
 * and a new identity is committed by replacing `identity.json` last, so a
 * power cut at any moment leaves either the old identity or the new one in
 * force, never a certificate without its key. Files no identity or flow
 * names are removed by `sweep()`.
 */

import { join } from "../../path.ts";
import { ensureStateDir, writeSecretFile } from "../../state.ts";

/** The identity in force. */
export interface Identity {
  thing: string;
  certificateId: string;
  /** File names in the identity dir. */
  cert: string;
  key: string;
  /** ms since epoch. */
  installedAt: number;
  previousCertificateId?: string;
}

/** An identity with its PEM text. */
export interface LoadedIdentity extends Identity {
  certPem: string;
  keyPem: string;
}

export class IdentityStore {
  readonly dir: string;

  /** Nothing is created here: a reader (`tern sync`, `tern provision status`) leaves no trace. */
  constructor(dir: string) {
    this.dir = dir;
  }

  /** The identity in force, or undefined before the first one. */
  current(): LoadedIdentity | undefined {
    let id: Identity;
    try {
      id = JSON.parse(Deno.readTextFileSync(join(this.dir, "identity.json")));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw new Error(`Cannot read the identity in "${this.dir}": ${(e as Error).message}`);
    }
    return {
      ...id,
      certPem: Deno.readTextFileSync(join(this.dir, id.cert)),
      keyPem: Deno.readTextFileSync(join(this.dir, id.key)),
    };
  }

  /** Write a new flow key (0600, atomic); returns its file name. */
  writePendingKey(pem: string): string {
    const name = `key-pending-${Date.now().toString(36)}.pem`;
    ensureStateDir(this.dir);
    writeSecretFile(join(this.dir, name), pem);
    return name;
  }

  /** The PEM text of a file of the identity dir, or undefined when it is gone. */
  read(name: string): string | undefined {
    try {
      return Deno.readTextFileSync(join(this.dir, name));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  }

  /**
   * Make (`certPem`, `keyPem`) the identity in force: the pair's files
   * first, `identity.json` last. Idempotent (a resumed commit rewrites the
   * same files).
   */
  commit(
    next: { thing: string; certificateId: string; certPem: string; keyPem: string },
    now: number,
  ): Identity {
    const prev = this.#meta();
    const short = next.certificateId.slice(0, 16).replace(/[^A-Za-z0-9]/g, "_");
    const id: Identity = {
      thing: next.thing,
      certificateId: next.certificateId,
      cert: `cert-${short}.pem`,
      key: `key-${short}.pem`,
      installedAt: now,
      ...(prev && prev.certificateId !== next.certificateId
        ? { previousCertificateId: prev.certificateId }
        : prev?.previousCertificateId
        ? { previousCertificateId: prev.previousCertificateId }
        : {}),
    };
    ensureStateDir(this.dir);
    writeSecretFile(join(this.dir, id.key), next.keyPem);
    writeSecretFile(join(this.dir, id.cert), next.certPem);
    writeSecretFile(join(this.dir, "identity.json"), JSON.stringify(id, null, 2) + "\n");
    return id;
  }

  /** Remove every file neither the identity in force nor `keep` names (old pairs, torn temp files). */
  sweep(keep: string[] = []): string[] {
    const cur = this.#meta();
    const wanted = new Set(["identity.json", ...keep, ...(cur ? [cur.cert, cur.key] : [])]);
    const removed: string[] = [];
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(this.dir)];
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return removed; // nothing written yet
      throw e;
    }
    for (const e of entries) {
      if (!e.isFile || wanted.has(e.name)) continue;
      Deno.removeSync(join(this.dir, e.name));
      removed.push(e.name);
    }
    return removed;
  }

  #meta(): Identity | undefined {
    try {
      return JSON.parse(Deno.readTextFileSync(join(this.dir, "identity.json")));
    } catch {
      return undefined;
    }
  }
}
