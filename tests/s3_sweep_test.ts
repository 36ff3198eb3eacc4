/**
 * The sweep of abandoned multipart uploads, against moto's S3 (s3rver has no
 * ListMultipartUploads): uploads left in the bucket by someone else's client
 * (the official SDK here) are aborted once older than `abortAfter` if they
 * lie under the device's prefix (`sweepPrefix`, "{thing}/"), and never when
 * outside it or owned by an upload still in the agent's queue. The agent's
 * clock runs two days ahead, so uploads made now are old to it.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { CreateMultipartUploadCommand, S3Client } from "@aws-sdk/client-s3";
import { Agent } from "../lib/agent.ts";
import { type Clock, systemClock } from "../lib/clock.ts";
import type { S3Service } from "../lib/cloud/s3/mod.ts";
import { LIBRARY_SERVICES } from "../lib/services.ts";
import { MOTO_REGION } from "./helpers/moto.ts";
import { BUCKET, s3Config, sha256Hex, startS3Moto, writePattern } from "./helpers/s3.ts";
import { until } from "./helpers/wait.ts";

const MiB = 1024 * 1024;
const DAY = 86_400_000;

Deno.test("abandoned multipart uploads under the device's prefix are swept; others' and owned ones stay", async () => {
  await using peer = await startS3Moto();
  const sdk = new S3Client({
    region: MOTO_REGION,
    endpoint: peer.url,
    forcePathStyle: true,
    credentials: { ...peer.credentials }, // a copy: the SDK marks the object it is given
  });
  const create = async (key: string) =>
    (await sdk.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }))).UploadId!;
  const abandoned = await create("d1/old.bin");
  const foreign = await create("d2/theirs.bin");
  sdk.destroy();

  const dir = await Deno.makeTempDir({ prefix: "tern_s3_sweep_" });
  const files = join(dir, "files");
  await Deno.mkdir(files);
  const ahead: Clock = { now: () => Date.now() + 2 * DAY, sleep: systemClock.sleep };
  const config = s3Config(peer.url, files, {
    partSize: 5 * MiB,
    multipartThreshold: 5 * MiB,
    sweepEvery: 200,
  });
  await using agent = await Agent.start({
    loaded: { config, configDir: dir, stateDir: dir, files: [], secrets: [] },
    factories: LIBRARY_SERVICES,
    clock: ahead,
  });
  const s3 = agent.get<S3Service>("cloud.s3");
  await until(() => s3.status().abandonedAborted === 1, { what: "the first sweep" });
  assert.deepEqual((await peer.uploads(BUCKET))!.sort(), [foreign]);
  assert.ok(!(await peer.uploads(BUCKET))!.includes(abandoned));

  // An upload of the agent's own queue, stalled mid-way (its parts answered 503), is owned.
  let stall = true;
  peer.fault = (req, url) =>
    stall && req.method === "PUT" && url.searchParams.has("partNumber")
      ? new Response("<Error><Code>ServiceUnavailable</Code></Error>", { status: 503 })
      : undefined;
  const file = join(files, "mine.bin");
  await writePattern(file, 12 * MiB, 9);
  const id = await s3.upload({ file, key: "d1/mine.bin" });
  await until(() => !!s3.status(id)?.uploadId && s3.status(id)!.retries > 0, {
    what: "the upload to be stalled",
  });
  const seen = s3.sweeps;
  await until(() => s3.sweeps >= seen + 2, { what: "two more sweeps" });
  assert.deepEqual(
    (await peer.uploads(BUCKET))!.sort(),
    [foreign, s3.status(id)!.uploadId!].sort(),
    "the queued upload and the other device's are kept",
  );
  stall = false;
  await until(() => s3.status(id)?.state === "done", { what: "the stalled upload to finish" });
  assert.equal(
    await sha256Hex((await peer.object(BUCKET, "d1/mine.bin"))!),
    await sha256Hex(await Deno.readFile(file)),
  );
  assert.equal(s3.status().abandonedAborted, 1);
  await Deno.remove(dir, { recursive: true });
});
