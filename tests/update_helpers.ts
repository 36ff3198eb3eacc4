/**
 * Shared set-up of the update tests: the aedes broker, s3rver, the Jobs
 * responder (tests/helpers/jobs_peer.ts), release keys (Ed25519 and ECDSA
 * P-256), and "binaries": shell scripts that start either the real agent
 * (main.ts with a version profile) or the update child
 * (tests/update_child.ts: the real Updater on the real MQTT client, without
 * the rest of the agent, so a kill matrix stays fast).
 *
 * ```ts
 * await using w = await updateWorld();
 * const doc = await w.release(w.childScript("1.1.0"), { version: "1.1.0" });
 * await w.peer.createJob("j1", doc, [THING]);
 * ```
 */

import { join } from "node:path";
import { type AedesBroker, startAedes } from "./helpers/aedes.ts";
import { type JobsPeer, startJobsPeer } from "./helpers/jobs_peer.ts";
import { BUCKET, type S3Peer, sha256Hex, startS3rver } from "./helpers/s3.ts";
import { signRequest } from "../lib/aws/mod.ts";
import { MOTO_CREDENTIALS, MOTO_REGION } from "./helpers/moto.ts";
import { signedMessage } from "../lib/cloud/update/mod.ts";

export const THING = "dev-1";
export const TARGET = Deno.build.target === "aarch64-unknown-linux-gnu"
  ? "aarch64-unknown-linux-gnu"
  : "x86_64-unknown-linux-gnu";
const ROOT = new URL("..", import.meta.url).pathname;
const MAIN = join(ROOT, "main.ts");
const CHILD = join(ROOT, "tests/update_child.ts");

export interface ReleaseOptions {
  version: string;
  target?: string;
  /** Sign with this key ("ed", "ec") or one the device does not know ("stranger"). */
  sign?: "ed" | "ec" | "stranger";
  /** Claim another size or hash than the bytes have. */
  size?: number;
  sha256?: string;
  allowDowngrade?: boolean;
  /** A `tern.bundle` job for this bundle name (no target: "any"). */
  bundle?: string;
}

export interface World extends AsyncDisposable {
  broker: AedesBroker;
  s3: S3Peer;
  peer: JobsPeer;
  dir: string;
  bin: string;
  state: string;
  /** `update.keys` of the device. */
  keys: { id: string; alg: "ed25519" | "ecdsa-p256"; key: string }[];
  /** `host:port` of the S3 endpoint. */
  host: string;
  /** Upload `bytes` and return a signed job document for them. */
  release(bytes: Uint8Array, o: ReleaseOptions): Promise<Record<string, unknown>>;
  /** A binary that runs the update child as `version` (padding: bytes of comment after exec). */
  childScript(
    version: string,
    o?: { pad?: number; bandwidth?: number; unhealthy?: boolean },
  ): Uint8Array;
  /** A binary that runs the whole agent (main.ts) with profile v`version`. */
  agentScript(version: string, o?: { pad?: number; profile?: Record<string, unknown> }): Uint8Array;
  /** A binary that exits 1 at once. */
  crashScript(): Uint8Array;
  install(bytes: Uint8Array): Promise<void>;
}

const enc = new TextEncoder();

function _script(body: string, pad = 0): Uint8Array {
  const head = `#!/bin/sh\n${body}\n`;
  // Never read by sh (it stops at exec): makes the release big enough to cut and resume.
  return enc.encode(head + (pad ? `# ${"x".repeat(pad)}\n` : ""));
}

async function _pair(alg: "ed" | "ec"): Promise<CryptoKeyPair> {
  const params: AlgorithmIdentifier | EcKeyGenParams = alg === "ed"
    ? { name: "Ed25519" }
    : { name: "ECDSA", namedCurve: "P-256" };
  return await crypto.subtle.generateKey(params as EcKeyGenParams, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
}

async function _spki(k: CryptoKey): Promise<string> {
  const der = new Uint8Array(await crypto.subtle.exportKey("spki", k));
  return btoa(String.fromCharCode(...der));
}

export async function updateWorld(o: { bandwidth?: number } = {}): Promise<World> {
  const dir = await Deno.makeTempDir({ prefix: "tern-update-" });
  const state = join(dir, "state");
  await Deno.mkdir(join(dir, "bin"));
  await Deno.mkdir(state, { mode: 0o700 });
  const bin = join(dir, "bin", "tern");
  const broker = await startAedes();
  const s3 = await startS3rver();
  const peer = await startJobsPeer({ broker: broker.url });
  const ed = await _pair("ed");
  const ec = await _pair("ec");
  const stranger = await _pair("ed");
  const keys = [
    { id: "ci-ed", alg: "ed25519" as const, key: await _spki(ed.publicKey) },
    { id: "ci-ec", alg: "ecdsa-p256" as const, key: await _spki(ec.publicKey) },
  ];
  const host = new URL(s3.url).host;
  const conf = join(dir, "conf");
  await Deno.mkdir(join(conf, "profiles"), { recursive: true });
  const update = {
    enabled: true,
    binary: bin,
    keys,
    hosts: [host],
    healthTimeout: 4000,
    maxBoots: 2,
    requestTimeout: 3000,
    backoff: { min: 50, max: 400 },
    bandwidth: o.bandwidth ?? 0,
  };
  await Deno.writeTextFile(
    join(conf, "tern.json5"),
    JSON.stringify({
      agent: { mode: "cloud", state, stopTimeout: 3000 },
      web: { enabled: false },
      device: { id: THING },
      log: { level: "info" },
      mqtt: { enabled: true, url: broker.url, reconnect: { min: 20, max: 200 } },
      update,
    }),
  );
  let n = 0;
  const world: World = {
    broker,
    s3,
    peer,
    dir,
    bin,
    state,
    keys,
    host,
    async release(bytes, o) {
      const key = `releases/tern-${o.version}-${++n}`;
      const url = `${s3.url}/${BUCKET}/${key}`;
      const signed = await signRequest({ method: "PUT", url, body: bytes }, {
        credentials: MOTO_CREDENTIALS,
        region: MOTO_REGION,
        service: "s3",
      });
      const r = await fetch(signed.url, {
        method: "PUT",
        headers: signed.headers,
        body: bytes as Uint8Array<ArrayBuffer>,
      });
      if (!r.ok) throw new Error(`PUT ${key}: ${r.status} ${await r.text()}`);
      await r.body?.cancel();
      const d = {
        ...(o.bundle ? { operation: "tern.bundle", name: o.bundle } : {}),
        version: o.version,
        target: o.target ?? (o.bundle ? "any" : TARGET),
        size: o.size ?? bytes.length,
        sha256: o.sha256 ?? await sha256Hex(bytes),
      };
      const which = o.sign ?? "ed";
      const pair = which === "ec" ? ec : which === "ed" ? ed : stranger;
      const alg = which === "ec" ? { name: "ECDSA", hash: "SHA-256" } : { name: "Ed25519" };
      const sig = new Uint8Array(
        await crypto.subtle.sign(alg, pair.privateKey, signedMessage(d as never)),
      );
      return {
        operation: "tern.update",
        ...d,
        ...(o.bundle && !o.target ? { target: undefined } : {}),
        url: `\${aws:iot:s3-presigned-url:${url}}`,
        signature: {
          keyId: which === "ec" ? "ci-ec" : "ci-ed",
          alg: which === "ec" ? "ecdsa-p256" : "ed25519",
          value: btoa(String.fromCharCode(...sig)),
        },
        ...(o.allowDowngrade ? { allowDowngrade: true } : {}),
      };
    },
    childScript(version, o = {}) {
      const cfg = JSON.stringify({
        broker: broker.url,
        state,
        bin,
        thing: THING,
        version,
        target: TARGET,
        unhealthy: o.unhealthy ?? false,
        update: { ...update, bandwidth: o.bandwidth ?? update.bandwidth, healthTimeout: 1000 },
      });
      return _script(
        `exec "${Deno.execPath()}" run --quiet --allow-all "${CHILD}" '${cfg}'`,
        o.pad,
      );
    },
    agentScript(version, o = {}) {
      const profile = `v${version.replaceAll(".", "_")}`;
      Deno.writeTextFileSync(
        join(conf, "profiles", `${profile}.json5`),
        JSON.stringify({ ...o.profile, update: { version } }),
      );
      return _script(
        `exec "${Deno.execPath()}" run --quiet --allow-all "${MAIN}" run --config "${conf}" --profile ${profile}`,
        o.pad,
      );
    },
    crashScript() {
      return _script(`echo "crash at start" >&2\nexit 1`);
    },
    async install(bytes) {
      await Deno.writeFile(bin, bytes, { mode: 0o755 });
    },
    async [Symbol.asyncDispose]() {
      await peer[Symbol.asyncDispose]();
      await s3[Symbol.asyncDispose]();
      await broker[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  return world;
}

/** The bytes of a file, or undefined when it does not exist. */
export async function readOr(path: string): Promise<Uint8Array | undefined> {
  try {
    return await Deno.readFile(path);
  } catch {
    return undefined;
  }
}
