/**
 * Sign a release in CI and write its `tern.update` job document
 * (docs/update.md). The signature covers `tern.update:VERSION:TARGET:SIZE:SHA256`
 * (lib/cloud/update/document.ts), with an Ed25519 or ECDSA P-256 private key
 * (PKCS#8 PEM) from a file or the `TERN_RELEASE_KEY` environment variable (a
 * CI secret; never printed).
 *
 * ```sh
 * # once: a key pair; the public key goes into update.keys of every device
 * deno run --allow-write=keys deploy/sign_release.ts --gen-key keys/release --alg ed25519
 * # each release:
 * deno run --allow-read=dist --allow-write=dist --allow-env=TERN_RELEASE_KEY deploy/sign_release.ts \
 *   --key-id ci-2026 --version 1.3.0 --target aarch64-unknown-linux-gnu \
 *   --s3 tern-releases/1.3.0/tern-aarch64 --region eu-west-1 dist/tern-aarch64-unknown-linux-gnu
 * # → dist/tern-aarch64-unknown-linux-gnu.job.json, for `aws iot create-job --document file://…`
 * ```
 *
 * `--bundle NAME` signs a device application bundle (a `.tar.gz`; `tern.bundle`
 * job, `--target` optional) instead of the agent.
 *
 * `--s3 BUCKET/KEY --region R` writes the URL as IoT Jobs' placeholder
 * `${aws:iot:s3-presigned-url:https://BUCKET.s3.R.amazonaws.com/KEY}`, which
 * the service replaces with a presigned URL for each device (create the job
 * with `--presigned-url-config`); `--url URL` puts any HTTPS URL instead.
 */

import { createHash } from "node:crypto";
import { signedMessage } from "../lib/cloud/update/document.ts";

const TARGETS = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"];

function _args(argv: string[]): { flags: Record<string, string>; files: string[] } {
  const flags: Record<string, string> = {};
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith("--")) {
      const v = argv[i + 1];
      if (v === undefined || v.startsWith("--")) throw new Error(`Option ${a} needs a value`);
      flags[a.slice(2)] = v;
      i++;
    } else files.push(a);
  }
  return { flags, files };
}

const PARAMS = {
  "ed25519": { gen: { name: "Ed25519" }, sign: { name: "Ed25519" } },
  "ecdsa-p256": {
    gen: { name: "ECDSA", namedCurve: "P-256" },
    sign: { name: "ECDSA", hash: "SHA-256" },
  },
} as const;

const b64 = (b: ArrayBuffer | Uint8Array) =>
  btoa(String.fromCharCode(...new Uint8Array(b instanceof Uint8Array ? b : b)));

function _pem(label: string, der: ArrayBuffer): string {
  const body = b64(der).replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

function _der(pem: string): Uint8Array<ArrayBuffer> {
  const s = atob(pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, ""));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

async function _sha256(path: string): Promise<{ hex: string; size: number }> {
  const h = createHash("sha256");
  using f = await Deno.open(path, { read: true });
  const buf = new Uint8Array(1024 * 1024);
  let size = 0;
  for (;;) {
    const n = await f.read(buf);
    if (n === null) break;
    size += n;
    h.update(buf.subarray(0, n));
  }
  return { hex: h.digest("hex"), size };
}

/** Run with `argv`; returns the exit code. */
export async function signRelease(argv: string[]): Promise<number> {
  const { flags, files } = _args(argv);
  const alg = (flags.alg ?? "ed25519") as keyof typeof PARAMS;
  if (!PARAMS[alg]) throw new Error(`--alg must be ed25519 or ecdsa-p256, got "${flags.alg}"`);
  if (flags["gen-key"]) {
    const kp = await crypto.subtle.generateKey(PARAMS[alg].gen as EcKeyGenParams, true, [
      "sign",
      "verify",
    ]) as CryptoKeyPair;
    const priv = _pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", kp.privateKey));
    await Deno.writeTextFile(`${flags["gen-key"]}.pem`, priv, { mode: 0o600 });
    const pub = b64(await crypto.subtle.exportKey("spki", kp.publicKey));
    await Deno.writeTextFile(`${flags["gen-key"]}.pub`, pub + "\n");
    console.log(`update.keys entry: { id: "KEY-ID", alg: "${alg}", key: "${pub}" }`);
    return 0;
  }
  if (files.length !== 1) throw new Error("Give exactly one release file");
  const version = flags.version ?? "";
  if (!/^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/.test(version)) {
    throw new Error(`--version must be a semantic version, got "${version}"`);
  }
  const bundle = flags.bundle;
  if (bundle !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(bundle)) {
    throw new Error(`--bundle must be a bundle name (letters, digits, _ and -), got "${bundle}"`);
  }
  const target = flags.target ?? (bundle ? "any" : "");
  if (!TARGETS.includes(target) && !(bundle && target === "any")) {
    throw new Error(`--target must be ${TARGETS.join(" or ")}`);
  }
  let url = flags.url;
  if (flags.s3) {
    const [bucket, ...key] = flags.s3.split("/");
    if (!bucket || !key.length || !flags.region) {
      throw new Error("--s3 BUCKET/KEY needs --region");
    }
    url = `\${aws:iot:s3-presigned-url:https://${bucket}.s3.${flags.region}.amazonaws.com/${
      key.join("/")
    }}`;
  }
  if (!url) throw new Error("Give --url URL or --s3 BUCKET/KEY --region REGION");
  const pem = flags.key ? await Deno.readTextFile(flags.key) : Deno.env.get("TERN_RELEASE_KEY");
  if (!pem) throw new Error("Give --key FILE.pem or set TERN_RELEASE_KEY");
  const key = await crypto.subtle.importKey("pkcs8", _der(pem), PARAMS[alg].gen, false, ["sign"])
    .catch(() => {
      throw new Error(`The private key is not a PKCS#8 ${alg} key`);
    });
  const { hex, size } = await _sha256(files[0]!);
  const d = { version, target, size, sha256: hex };
  const sig = await crypto.subtle.sign(
    PARAMS[alg].sign,
    key,
    signedMessage({ ...d, ...(bundle ? { operation: "tern.bundle", name: bundle } : {}) } as never),
  );
  const doc = {
    operation: bundle ? "tern.bundle" : "tern.update",
    ...(bundle ? { name: bundle } : {}),
    ...d,
    url,
    signature: { ...(flags["key-id"] ? { keyId: flags["key-id"] } : {}), alg, value: b64(sig) },
    ...(flags["allow-downgrade"] === "true" ? { allowDowngrade: true } : {}),
  };
  const out = flags.out ?? `${files[0]}.job.json`;
  await Deno.writeTextFile(out, JSON.stringify(doc, null, 2) + "\n");
  console.log(`${out}: ${version} for ${target}, ${size} bytes, sha256 ${hex}`);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await signRelease(Deno.args));
  } catch (e) {
    console.error(`sign_release: ${(e as Error).message}`);
    Deno.exit(64);
  }
}
