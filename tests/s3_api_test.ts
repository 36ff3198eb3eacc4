/**
 * S3 uploads seen from outside the library: REST `/api/uploads` (role
 * checked, 400 on bad input with nothing queued), `tern upload
 * list|status|cancel` on the agent's database while the agent runs, a
 * camera-style watched directory, the bandwidth cap, and the permissions
 * the config derives (read of the upload directories only). Against moto's
 * S3 behind the SigV4-verifying endpoint.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Agent } from "../lib/agent.ts";
import { uploadCommand } from "../lib/cli/upload.ts";
import { systemClock } from "../lib/clock.ts";
import type { S3Service } from "../lib/cloud/s3/mod.ts";
import { configSchema, derivePermissions } from "../lib/config/mod.ts";
import type { DatabaseService } from "../lib/db/mod.ts";
import { nullLogger } from "../lib/log/mod.ts";
import { LIBRARY_SERVICES } from "../lib/services.ts";
import { buildApp } from "../routes/web_service.ts";
import { BUCKET, s3Config, startS3Moto, writePattern } from "./helpers/s3.ts";
import { until } from "./helpers/wait.ts";

const MiB = 1024 * 1024;

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

Deno.test("REST /api/uploads and tern upload list|status|cancel on a running agent", async () => {
  await using peer = await startS3Moto();
  const dir = await Deno.makeTempDir({ prefix: "tern_s3_api_" });
  const files = join(dir, "files");
  await Deno.mkdir(files);
  await Deno.mkdir(join(dir, "config"));
  await Deno.writeTextFile(join(dir, "config", "tern.json5"), "{}");
  const config = s3Config(peer.url, files, {
    partSize: 5 * MiB,
    multipartThreshold: 5 * MiB,
    parallel: 1,
  });
  await using agent = await Agent.start({
    loaded: { config, configDir: dir, stateDir: dir, files: [], secrets: [] },
    factories: LIBRARY_SERVICES,
  });
  const s3 = agent.get<S3Service>("cloud.s3");
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  peer.fault = async (req, url) => {
    if (req.method === "PUT" && url.searchParams.get("partNumber") === "1") await gate;
    return undefined;
  };
  const big = join(files, "big.bin");
  await writePattern(big, 12 * MiB, 4);
  const held = await s3.upload({ file: big, key: "dev/held.bin" });
  await until(() => s3.status(held)?.state === "uploading");

  const { app, deps } = buildApp(
    configSchema.parse({ web: { auth: { iterations: 10_000 }, static: { enabled: false } } }),
    {
      log: nullLogger,
      clock: systemClock,
      db: agent.get<DatabaseService>("database").db,
      service: (n) => (n === "cloud.s3" ? s3 : undefined),
      status: { services: () => agent.states() },
    },
  );
  const setup = await app.request(
    new Request("http://dev.local/api/auth/setup", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: deps.setup.token, username: "admin", password: "pw-pw-pw-pw" }),
    }),
  );
  assert.equal(setup.status, 201);
  const cookie = setup.headers.get("set-cookie")!.split(";")[0]!;
  await setup.body?.cancel();
  const me = await (await app.request(
    new Request("http://dev.local/api/auth/me", { headers: { cookie } }),
  )).json();
  const anon = await app.request(new Request("http://dev.local/api/uploads"));
  assert.equal(anon.status, 401);
  await anon.body?.cancel();
  const list = await (await app.request(
    new Request("http://dev.local/api/uploads", { headers: { cookie } }),
  )).json();
  assert.equal(list.uploads.length, 1);
  assert.equal(list.uploads[0].id, held);
  assert.equal(list.uploads[0].state, "uploading");
  assert.equal(list.queue.uploading, 1);
  const post = (b: unknown) =>
    app.request(
      new Request("http://dev.local/api/uploads", {
        method: "POST",
        headers: { cookie, "content-type": "application/json", "x-xsrf-token": me.xsrf },
        body: JSON.stringify(b),
      }),
    );
  const bad = await post({ file: "/etc/passwd", key: "x" });
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error.message, /not inside an upload directory/);
  const bad2 = await post({ data: "x", key: "k", color: "red" });
  assert.equal(bad2.status, 400);
  assert.match((await bad2.json()).error.message, /Unknown key "color"/);
  assert.equal(s3.list().length, 1, "nothing queued by bad requests");
  const ok = await post({ data: "hello from rest", key: "dev/rest.txt" });
  assert.equal(ok.status, 202);
  const { id: restId } = await ok.json();
  const missing = await app.request(
    new Request("http://dev.local/api/uploads/nope", { headers: { cookie } }),
  );
  assert.equal(missing.status, 404);
  await missing.body?.cancel();

  // The CLI reads (and writes the cancel to) the same database.
  const flags = { config: join(dir, "config"), state: dir };
  const c = capture();
  assert.equal(await uploadCommand.run(["list"], flags, c.io), 0);
  assert.match(
    c.out.join("\n"),
    new RegExp(`${held}  uploading .*parts 0/3  s3://${BUCKET}/dev/held.bin`),
  );
  const st = capture();
  assert.equal(await uploadCommand.run(["status", held, "--json"], flags, st.io), 0);
  assert.equal(JSON.parse(st.out.join("")).key, "dev/held.bin");
  assert.equal(await uploadCommand.run(["status", "nope"], flags, capture().io), 1);
  assert.throws(() => uploadCommand.run(["frob"], flags, capture().io), /Unknown subcommand/);
  assert.equal(await uploadCommand.run(["cancel", held], flags, capture().io), 0);
  release();
  await until(() => s3.status(held)?.state === "canceled", { ms: 10_000 });
  await until(() => s3.status(restId)?.state === "done", { ms: 10_000 });
  assert.equal(
    new TextDecoder().decode(await peer.object(BUCKET, "dev/rest.txt")),
    "hello from rest",
  );
  assert.equal(await peer.object(BUCKET, "dev/held.bin"), undefined);
  assert.deepEqual(await peer.uploads(BUCKET), []);
  const again = capture();
  assert.equal(await uploadCommand.run(["cancel", held], flags, again.io), 1);
  assert.match(again.err.join(""), /already ended \(canceled\)/);
  const del = await app.request(
    new Request(`http://dev.local/api/uploads/${restId}`, {
      method: "DELETE",
      headers: { cookie, "x-xsrf-token": me.xsrf },
    }),
  );
  assert.deepEqual(await del.json(), { canceled: false });
});

Deno.test("a watched directory uploads each settled file once under its key template, then deletes it", async () => {
  await using peer = await startS3Moto();
  const dir = await Deno.makeTempDir({ prefix: "tern_s3_watch_" });
  const cam = join(dir, "camera");
  await Deno.mkdir(cam);
  const config = s3Config(peer.url, cam, {
    watch: [{
      path: cam,
      key: "{thing}/camera/{file}",
      settle: 150,
      interval: 100,
      pattern: "\\.jpg$",
      deleteAfterUpload: true,
      contentType: "image/jpeg",
    }],
  });
  await using agent = await Agent.start({
    loaded: { config, configDir: dir, stateDir: dir, files: [], secrets: [] },
    factories: LIBRARY_SERVICES,
  });
  const s3 = agent.get<S3Service>("cloud.s3");
  await Deno.writeTextFile(join(cam, "0001.jpg"), "jpeg-1");
  await Deno.writeTextFile(join(cam, "0002.jpg"), "jpeg-2");
  await Deno.writeTextFile(join(cam, "notes.txt"), "not a picture");
  await Deno.writeTextFile(join(cam, "0003.jpg.tmp"), "still being written");
  await until(() => s3.list().filter((p) => p.state === "done").length === 2, { ms: 10_000 });
  assert.equal(new TextDecoder().decode(await peer.object(BUCKET, "d1/camera/0001.jpg")), "jpeg-1");
  assert.equal((await peer.head(BUCKET, "d1/camera/0002.jpg"))?.get("content-type"), "image/jpeg");
  await until(async () => {
    const left = (await Array.fromAsync(Deno.readDir(cam))).map((e) => e.name).sort();
    return left.join(",") === "0003.jpg.tmp,notes.txt";
  }, { what: "the uploaded pictures to be deleted" });
  assert.equal(s3.list().length, 2, "each picture queued once");
});

Deno.test("cloud.s3 permissions: read of the upload directories only, the bucket host, write only where files are deleted", () => {
  const base = { configDir: "/etc/tern", stateDir: "/var/lib/tern" };
  const config = configSchema.parse({
    aws: { region: "eu-west-1" },
    cloud: {
      s3: {
        enabled: true,
        bucket: "acme-devices",
        directories: ["/data/exports"],
        watch: [{ path: "/data/camera", deleteAfterUpload: true }],
      },
    },
  });
  const needs = derivePermissions(config, base);
  assert.ok(needs.read.includes("/data/exports"));
  assert.ok(needs.read.includes("/data/camera"));
  assert.ok(!needs.read.includes("/"));
  assert.ok(needs.write.includes("/data/camera"));
  assert.ok(!needs.write.includes("/data/exports"));
  assert.ok(needs.net.includes("acme-devices.s3.eu-west-1.amazonaws.com:443"));
  const off = derivePermissions(configSchema.parse({}), base);
  assert.ok(!off.read.includes("/data/exports"));
  assert.throws(
    () => configSchema.parse({ cloud: { s3: { bucket: "Bad_Bucket" } } }),
    /cloud\.s3\.bucket/,
  );
  assert.throws(
    () => configSchema.parse({ cloud: { s3: { partSize: 1024 } } }),
    /cloud\.s3\.partSize/,
  );
});

Deno.test("the CloudFormation template grants the device's S3 calls under its own prefix, the sweep's listing on opt-in", async () => {
  const t = await Deno.readTextFile(new URL("../deploy/cloudformation/tern.yaml", import.meta.url));
  const s3 = t.slice(t.indexOf("- PolicyName: tern-device-s3"));
  const policy = s3.slice(0, s3.indexOf("\n        # ", 10));
  assert.match(
    policy,
    /Action: \[s3:PutObject, s3:ListMultipartUploadParts, s3:AbortMultipartUpload\]\n\s+Resource: !Sub "arn:\$\{AWS::Partition\}:s3:::\$\{UploadBucketName\}\/\$\{!credentials-iot:ThingName\}\/\*"/,
  );
  assert.match(
    policy,
    /- WithUploadSweep\n\s+- Sid: SweepAbandonedUploads\n\s+Effect: Allow\n\s+Action: s3:ListBucketMultipartUploads\n\s+Resource: !Sub "arn:\$\{AWS::Partition\}:s3:::\$\{UploadBucketName\}"/,
  );
  assert.match(t, /WithUploadSweep: !Equals \[!Ref UploadSweep, "true"\]/);
  assert.ok(t.includes(`\n  UploadSweep:\n    Type: String\n    Default: "false"`));
  assert.ok(!/s3:\*|s3:GetObject|s3:DeleteObject/.test(policy), "nothing beyond uploading");
});
