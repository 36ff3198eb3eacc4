/**
 * The `tern.update` job document and its checks (docs/update.md):
 *
 * ```json
 * {"operation": "tern.update", "version": "1.3.0", "target": "aarch64-unknown-linux-gnu",
 *  "url": "${aws:iot:s3-presigned-url:https://s3.eu-west-1.amazonaws.com/rel/tern-1.3.0-aarch64}",
 *  "size": 91234567, "sha256": "9f86d0…",
 *  "signature": {"keyId": "ci-2026", "alg": "ed25519", "value": "base64…"},
 *  "allowDowngrade": false}
 * ```
 *
 * The signature is over the UTF-8 bytes of
 * `tern.update:VERSION:TARGET:SIZE:SHA256` (SHA-256 in lower-case hex), so
 * a signed binary cannot be relabelled with another version or target.
 *
 * A device application bundle (a `.tar.gz` unpacked beside the previous
 * ones, swapped in by symlink; bundle.ts) has `"operation": "tern.bundle"`,
 * a `name` (a key of `update.bundles`), an optional `target`, and its
 * signature covers `tern.bundle:NAME:VERSION:TARGET:SIZE:SHA256` (TARGET
 * `any` when the document has none).
 * Ed25519, or ECDSA P-256 with SHA-256 (IEEE P1363 r‖s, 64 bytes, as
 * WebCrypto produces it). Verified with WebCrypto against `update.keys`.
 * Every check runs before a byte is downloaded; a refused job changes
 * nothing on the device.
 */

import type { UpdateConfig } from "../../config/mod.ts";

export const OPERATION = "tern.update";
export const BUNDLE_OPERATION = "tern.bundle";
export const TARGETS = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"] as const;

export interface UpdateDocument {
  operation: typeof OPERATION | typeof BUNDLE_OPERATION;
  /** The bundle's name (bundles only). */
  name?: string;
  version: string;
  /** Required for the agent; "any" for a bundle without one. */
  target: (typeof TARGETS)[number] | "any";
  url: string;
  size: number;
  sha256: string;
  signature: { keyId?: string; alg: "ed25519" | "ecdsa-p256"; value: string };
  allowDowngrade: boolean;
}

/** Why a job is refused; `reason` is a short code for statusDetails. */
export class UpdateRefused extends Error {
  override name = "UpdateRefused";
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}

const SEMVER = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

/** -1, 0 or 1 as `a` is older, the same or newer than `b` (semantic versions). */
export function compareVersions(a: string, b: string): number {
  const x = SEMVER.exec(a), y = SEMVER.exec(b);
  if (!x || !y) throw new RangeError(`Not a semantic version: "${x ? b : a}"`);
  for (let i = 1; i <= 3; i++) {
    const d = Number(x[i]) - Number(y[i]);
    if (d) return Math.sign(d);
  }
  if (x[4] === y[4]) return 0;
  if (x[4] === undefined) return 1; // a release is newer than its pre-release
  if (y[4] === undefined) return -1;
  return x[4] < y[4] ? -1 : 1;
}

/** The message a release signature covers. */
export function signedMessage(
  d: Pick<UpdateDocument, "version" | "target" | "size" | "sha256"> & {
    operation?: string;
    name?: string;
  },
) {
  const head = d.operation === BUNDLE_OPERATION ? `${BUNDLE_OPERATION}:${d.name}` : OPERATION;
  return new TextEncoder().encode(
    `${head}:${d.version}:${d.target}:${d.size}:${d.sha256.toLowerCase()}`,
  );
}

/** Parse a job document; throws UpdateRefused naming the bad field. */
export function parseDocument(input: Record<string, unknown>): UpdateDocument {
  let doc = input;
  const bad = (field: string, want: string) =>
    new UpdateRefused(
      "bad-document",
      `Job document field "${field}" must be ${want}, got ${JSON.stringify(doc[field])}`,
    );
  const bundle = doc.operation === BUNDLE_OPERATION;
  if (doc.operation !== OPERATION && !bundle) {
    throw bad("operation", `"${OPERATION}" or "${BUNDLE_OPERATION}"`);
  }
  if (bundle && (typeof doc.name !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(doc.name))) {
    throw bad("name", "a bundle name (letters, digits, _ and -)");
  }
  if (bundle && doc.target === undefined) doc = { ...doc, target: "any" };
  if (typeof doc.version !== "string" || !SEMVER.test(doc.version)) {
    throw bad("version", "a semantic version");
  }
  if (!TARGETS.includes(doc.target as never) && !(bundle && doc.target === "any")) {
    throw bad("target", TARGETS.join(" or "));
  }
  if (typeof doc.url !== "string" || !/^https?:\/\//.test(doc.url)) throw bad("url", "a URL");
  if (!Number.isSafeInteger(doc.size) || (doc.size as number) <= 0) {
    throw bad("size", "a positive integer");
  }
  if (typeof doc.sha256 !== "string" || !/^[0-9a-fA-F]{64}$/.test(doc.sha256)) {
    throw bad("sha256", "64 hex digits");
  }
  const s = doc.signature as Record<string, unknown> | undefined;
  if (
    typeof s !== "object" || s === null || (s.alg !== "ed25519" && s.alg !== "ecdsa-p256") ||
    typeof s.value !== "string" || (s.keyId !== undefined && typeof s.keyId !== "string")
  ) throw bad("signature", '{ alg: "ed25519" | "ecdsa-p256", value: base64, keyId? }');
  return {
    operation: bundle ? BUNDLE_OPERATION : OPERATION,
    ...(bundle ? { name: doc.name as string } : {}),
    version: doc.version as string,
    target: doc.target as UpdateDocument["target"],
    url: doc.url,
    size: doc.size as number,
    sha256: doc.sha256.toLowerCase(),
    signature: {
      alg: s.alg,
      value: s.value,
      ...(typeof s.keyId === "string" ? { keyId: s.keyId } : {}),
    },
    allowDowngrade: doc.allowDowngrade === true,
  };
}

function _b64(s: string): Uint8Array<ArrayBuffer> {
  const body = s.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
  const bin = atob(body);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const ALGS = {
  "ed25519": { key: { name: "Ed25519" }, sign: { name: "Ed25519" } },
  "ecdsa-p256": {
    key: { name: "ECDSA", namedCurve: "P-256" },
    sign: { name: "ECDSA", hash: "SHA-256" },
  },
} as const;

/** Whether `d`'s signature verifies with one of `keys` (its keyId's, else any of its alg). */
export async function verifySignature(
  d: UpdateDocument,
  keys: UpdateConfig["keys"],
): Promise<boolean> {
  const candidates = keys.filter((k) =>
    k.alg === d.signature.alg && (!d.signature.keyId || k.id === d.signature.keyId)
  );
  let sig: Uint8Array<ArrayBuffer>;
  try {
    sig = _b64(d.signature.value);
  } catch {
    return false;
  }
  const msg = signedMessage(d);
  for (const k of candidates) {
    try {
      const a = ALGS[k.alg];
      const key = await crypto.subtle.importKey("spki", _b64(k.key), a.key, false, ["verify"]);
      if (await crypto.subtle.verify(a.sign, key, sig, msg)) return true;
    } catch {
      // a key that does not import cannot verify: try the next
    }
  }
  return false;
}

/** Every check that needs no download: target, version, host, signature. Throws UpdateRefused. */
export async function checkDocument(
  d: UpdateDocument,
  ctx: { current: string | undefined; target: string; config: UpdateConfig },
): Promise<void> {
  if (d.operation === BUNDLE_OPERATION && !ctx.config.bundles[d.name!]) {
    throw new UpdateRefused(
      "unknown-bundle",
      `Bundle "${d.name}" is not in update.bundles (configured: ${
        Object.keys(ctx.config.bundles).join(", ") || "none"
      })`,
    );
  }
  if (d.target !== "any" && d.target !== ctx.target) {
    throw new UpdateRefused(
      "wrong-target",
      `The release is for "${d.target}", this device runs "${ctx.target}"`,
    );
  }
  const cmp = ctx.current === undefined ? 1 : compareVersions(d.version, ctx.current);
  if (cmp === 0) {
    throw new UpdateRefused("same-version", `Version ${d.version} is already running`);
  }
  if (cmp < 0 && !d.allowDowngrade) {
    throw new UpdateRefused(
      "downgrade",
      `Version ${d.version} is older than the running ${ctx.current} and the job does not allow a downgrade`,
    );
  }
  const hosts = ctx.config.hosts;
  if (hosts.length) {
    const u = new URL(d.url);
    const hp = `${u.hostname}:${u.port || (u.protocol === "http:" ? "80" : "443")}`;
    if (!hosts.includes(hp)) {
      throw new UpdateRefused("host-not-allowed", `Download host "${hp}" is not in update.hosts`);
    }
  }
  if (!ctx.config.keys.length) {
    throw new UpdateRefused("no-keys", "No release keys in update.keys: cannot verify");
  }
  if (!await verifySignature(d, ctx.config.keys)) {
    throw new UpdateRefused(
      "bad-signature",
      `The release signature does not verify with ${
        d.signature.keyId ? `key "${d.signature.keyId}"` : `any ${d.signature.alg} key`
      } of update.keys`,
    );
  }
}
