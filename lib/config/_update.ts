/**
 * The `update` section: over-the-air updates of the agent through AWS IoT
 * Jobs (lib/cloud/update, docs/update.md).
 *
 * ```json5
 * update: {
 *   enabled: true,
 *   keys: [{ id: "ci-2026", alg: "ed25519", key: "MCowBQYDK2VwAyEA…" }],  // SPKI, base64 or PEM
 *   hosts: ["tern-releases.s3.eu-west-1.amazonaws.com:443"],              // where downloads may come from
 *   apply: "idle", window: [{ from: "02:00", to: "05:00" }],              // UTC
 * }
 * ```
 *
 * Units: ms, bytes, bytes per second.
 */

import * as z from "../validate/mod.ts";
import { dirname, resolve } from "../path.ts";
import { bytes, ms, type PathBase, type PermissionNeeds } from "./_types.ts";

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, '"HH:MM" (UTC)');

const key = z.strictObject({
  /** Named by a job document's `signature.keyId`. */
  id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "letters, digits, . _ -"),
  alg: z.enum(["ed25519", "ecdsa-p256"]),
  /** The public key: SubjectPublicKeyInfo, base64 DER or PEM. */
  key: z.string().min(40),
});

export const updateSection = z.strictObject({
  enabled: z.boolean().default(false),
  /** Thing name. @default device.thing, else the device id */
  thing: z.string().regex(/^[a-zA-Z0-9:_-]{1,128}$/, "a thing name").optional(),
  /** The binary that is replaced. @default the running executable */
  binary: z.string().min(1).optional(),
  /** The version this binary reports. @default the version built in (deno.json) */
  version: z.string().regex(/^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/, "a semantic version")
    .optional(),
  /** The target this device runs. @default Deno.build.target */
  target: z.enum(["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"]).optional(),
  /** Public keys a release may be signed with. */
  keys: z.array(key).default([]),
  /** Hosts (`host:port`) a download may come from; empty: any (the Deno sandbox must allow it). */
  hosts: z.array(z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, '"host:port"')).default([]),
  /** "now": install as soon as downloaded; "idle": when no web request or job ran for `idleFor`. */
  apply: z.enum(["now", "idle"]).default("now"),
  idleFor: ms().default(60_000),
  /** Install only inside one of these windows (UTC); none: any time. */
  window: z.array(z.strictObject({ from: hhmm, to: hhmm })).default([]),
  /** Bandwidth limit of a download; 0: none. */
  bandwidth: bytes().default(0),
  /** Free disk kept beyond the download itself. */
  reserve: bytes().default(16 * 1024 * 1024),
  /** The new agent must be running and connected within this, else it is rolled back. */
  healthTimeout: ms().min(1000).default(120_000),
  /** Starts of a new binary that never became healthy before the guard restores the old one. */
  maxBoots: z.number().int().min(1).max(10).default(3),
  /** `stepTimeoutInMinutes` sent with each IN_PROGRESS update (1..10080). */
  stepTimeoutMinutes: z.number().int().min(1).max(10_080).default(30),
  /** Time to wait for a Jobs reply. */
  requestTimeout: ms().min(100).default(10_000),
  /** Retry delays: full jitter between 0 and min·2^attempt, capped at max. */
  backoff: z.strictObject({ min: ms().default(1000), max: ms().default(60_000) }).prefault({}),
  /**
   * Device application bundles (`tern.bundle` jobs), by name: a `.tar.gz` is
   * unpacked to `DIR/releases/VERSION`, `DIR/current` is swapped to it by
   * symlink, then `command` runs (in `DIR/current`, env TERN_BUNDLE_VERSION);
   * when it fails `current` goes back to the previous release and the command
   * runs again there.
   */
  bundles: z.record(
    z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "a bundle name (letters, digits, _ and -)"),
    z.strictObject({
      dir: z.string().min(1),
      /** Program and arguments; must be idempotent (it runs again after a restart). */
      command: z.array(z.string().min(1)).min(1).optional(),
      timeout: ms().min(100).default(120_000),
      /** Releases kept in DIR/releases (current and previous included). */
      keep: z.number().int().min(2).max(20).default(3),
    }),
  ).default({}),
}).prefault({});

export type UpdateConfig = z.infer<typeof updateSection>;

/** The binary the update replaces (absolute). */
export function updateBinary(u: UpdateConfig, base: PathBase): string {
  return u.binary ? resolve(base.configDir, u.binary) : Deno.execPath();
}

export function updatePermissions(u: UpdateConfig, base: PathBase): Partial<PermissionNeeds> {
  if (!u.enabled) return {};
  const dir = dirname(updateBinary(u, base));
  const bundles = Object.values(u.bundles);
  const dirs = bundles.map((b) => resolve(base.configDir, b.dir));
  const run = bundles.length ? ["tar", ...bundles.flatMap((b) => b.command?.[0] ?? [])] : [];
  return { net: [...u.hosts], read: [dir, ...dirs], write: [dir, ...dirs], run };
}
