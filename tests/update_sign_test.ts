/**
 * deploy/sign_release.ts as CI runs it (a child process, scoped flags): a key
 * pair, then a signed job document that `tern update check` accepts on a
 * device holding the public key — and refuses once the release is changed.
 */

import { equal, match } from "node:assert/strict";
import { join } from "node:path";
import { runDeno } from "./helpers/process.ts";
import { TARGET } from "./update_helpers.ts";

const SIGN = new URL("../deploy/sign_release.ts", import.meta.url).pathname;
const MAIN = new URL("../main.ts", import.meta.url).pathname;

Deno.test("sign_release.ts signs a release that `tern update check` verifies, for both key types", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tern-sign-" });
  try {
    const file = join(dir, "tern");
    await Deno.writeTextFile(file, "#!/bin/sh\necho new\n");
    for (const alg of ["ed25519", "ecdsa-p256"]) {
      const gen = await runDeno([`--allow-write=${dir}`], SIGN, [
        "--gen-key",
        join(dir, alg),
        "--alg",
        alg,
      ]);
      equal(gen.code, 0, gen.stderr);
      const pub = (await Deno.readTextFile(join(dir, `${alg}.pub`))).trim();
      const priv = await Deno.readTextFile(join(dir, `${alg}.pem`));
      equal((await Deno.stat(join(dir, `${alg}.pem`))).mode! & 0o777, 0o600);
      const signed = await runDeno(
        [`--allow-read=${dir}`, `--allow-write=${dir}`, "--allow-env=TERN_RELEASE_KEY"],
        SIGN,
        [
          "--alg",
          alg,
          "--key-id",
          "ci",
          "--version",
          "9.0.0",
          "--target",
          TARGET,
          "--s3",
          "rel/9.0.0/tern",
          "--region",
          "eu-west-1",
          file,
        ],
        { TERN_RELEASE_KEY: priv },
      );
      equal(signed.code, 0, signed.stderr);
      equal(signed.stdout.includes("PRIVATE"), false);
      const doc = JSON.parse(await Deno.readTextFile(`${file}.job.json`));
      equal(
        doc.url,
        "${aws:iot:s3-presigned-url:https://rel.s3.eu-west-1.amazonaws.com/9.0.0/tern}",
      );
      const conf = join(dir, `conf-${alg}`);
      await Deno.mkdir(conf);
      await Deno.writeTextFile(
        join(conf, "tern.json5"),
        JSON.stringify({
          agent: { state: join(dir, "state") },
          update: { binary: file, keys: [{ id: "ci", alg, key: pub }] },
        }),
      );
      const check = (job: string) =>
        runDeno(["--allow-all"], MAIN, ["update", "check", job, "--config", conf]);
      const ok = await check(`${file}.job.json`);
      equal(ok.code, 0, ok.stdout + ok.stderr);
      match(ok.stdout, /9\.0\.0 for .* would be installed/);
      await Deno.writeTextFile(
        join(dir, "bad.json"),
        JSON.stringify({ ...doc, sha256: "0".repeat(64) }),
      );
      if (alg === "ed25519") {
        // A bundle document: its own signed message, verified by the device's check.
        const b = await runDeno(
          [`--allow-read=${dir}`, `--allow-write=${dir}`, "--allow-env=TERN_RELEASE_KEY"],
          SIGN,
          [
            "--bundle",
            "app",
            "--key-id",
            "ci",
            "--version",
            "2.0.0",
            "--url",
            "https://x/app.tgz",
            "--out",
            join(dir, "bundle.json"),
            file,
          ],
          { TERN_RELEASE_KEY: priv },
        );
        equal(b.code, 0, b.stderr);
        const bd = JSON.parse(await Deno.readTextFile(join(dir, "bundle.json")));
        equal(bd.operation, "tern.bundle");
        equal(bd.target, "any");
        const { parseDocument, verifySignature } = await import("../lib/cloud/update/mod.ts");
        equal(await verifySignature(parseDocument(bd), [{ id: "ci", alg, key: pub }]), true);
        equal(
          await verifySignature(parseDocument({ ...bd, name: "other" }), [{
            id: "ci",
            alg,
            key: pub,
          }]),
          false,
        );
      }
      const bad = await check(join(dir, "bad.json"));
      equal(bad.code, 1);
      match(bad.stdout, /problem: job document refused: The release signature does not verify/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the CloudFormation device policy allows exactly the Jobs topics the agent uses", async () => {
  const t = await Deno.readTextFile(
    new URL("../deploy/cloudformation/tern.yaml", import.meta.url),
  );
  const thing = "${!iot:Connection.Thing.ThingName}";
  for (const f of ["notify-next", "start-next/+", "+/get/+", "+/update/+"]) {
    match(t, new RegExp(`topicfilter/\\$aws/things/${_re(thing)}/jobs/${_re(f)}"`), f);
  }
  for (const p of ["start-next", "*/get", "*/update"]) {
    match(t, new RegExp(`:topic/\\$aws/things/${_re(thing)}/jobs/${_re(p)}"`), p);
  }
  match(t, /JobsPresignRole:[\s\S]*iot\.amazonaws\.com[\s\S]*s3:GetObject/);
});

function _re(s: string): string {
  return s.replace(/[$()*+.?[\\\]^{|}]/g, "\\$&");
}
