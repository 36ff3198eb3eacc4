/**
 * Presigned mode: a device with no AWS credentials uploads through URLs the
 * cloud presigns. The cloud side is a responder on the test broker
 * (mosquitto) that runs `answerPresign` (the documented handler) with the
 * test keys; the URLs point at moto's S3 directly (query-string SigV4). A
 * small file (PutObject) and a multipart file both arrive whole; a key
 * outside the device's prefix is refused with the responder's code.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import mqtt from "mqtt";
import { Agent } from "../lib/agent.ts";
import { answerPresign, type PresignRequest, type S3Service } from "../lib/cloud/s3/mod.ts";
import { configSchema } from "../lib/config/mod.ts";
import { LIBRARY_SERVICES } from "../lib/services.ts";
import { startMosquitto } from "./helpers/mosquitto.ts";
import { MOTO_CREDENTIALS, MOTO_REGION } from "./helpers/moto.ts";
import { skipWithout } from "./helpers/peers.ts";
import { BUCKET, sha256Hex, startS3Moto, writePattern } from "./helpers/s3.ts";
import { until } from "./helpers/wait.ts";

const MiB = 1024 * 1024;

Deno.test({
  name: "presigned mode: PutObject and multipart through URLs the cloud presigns over MQTT",
  ignore: skipWithout("mosquitto", import.meta.url),
  async fn() {
    await using peer = await startS3Moto();
    await using broker = await startMosquitto();
    const cloud = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    const asked: string[] = [];
    await cloud.subscribeAsync("tern/d1/s3/presign", { qos: 1 });
    cloud.on("message", async (_topic, payload) => {
      const req = JSON.parse(new TextDecoder().decode(payload)) as PresignRequest & {
        responseTopic: string;
        correlationId: string;
      };
      asked.push(`${req.method} ${Object.keys(req.query).sort().join(",") || "object"}`);
      const answer = await answerPresign(req, {
        credentials: MOTO_CREDENTIALS,
        region: MOTO_REGION,
        endpoint: peer.direct,
        buckets: [BUCKET],
        keyPrefix: "d1/",
      });
      await cloud.publishAsync(req.responseTopic, JSON.stringify(answer), { qos: 1 });
    });
    try {
      const dir = await Deno.makeTempDir({ prefix: "tern_s3_presign_" });
      const files = join(dir, "files");
      await Deno.mkdir(files);
      const config = configSchema.parse({
        agent: { mode: "cloud" },
        device: { id: "d1" },
        mqtt: { enabled: true, url: broker.url },
        cloud: {
          s3: {
            enabled: true,
            bucket: BUCKET,
            directories: [files],
            partSize: 5 * MiB,
            multipartThreshold: 5 * MiB,
            backoff: { min: 10, max: 100 },
            presigned: { enabled: true },
          },
        },
      });
      await using agent = await Agent.start({
        loaded: { config, configDir: dir, stateDir: dir, files: [], secrets: [] },
        factories: LIBRARY_SERVICES,
      });
      const s3 = agent.get<S3Service>("cloud.s3");
      const small = join(files, "small.txt");
      await Deno.writeTextFile(small, "presigned hello");
      const big = join(files, "big.bin");
      await writePattern(big, 12 * MiB, 12);
      const a = await s3.upload({ file: small, key: "d1/small.txt" });
      const b = await s3.upload({ file: big, key: "d1/big.bin" });
      const c = await s3.upload({ data: "x", key: "other/x.txt" });
      const end = (id: string) => ["done", "failed"].includes(s3.status(id)?.state ?? "");
      await until(() => end(a) && end(b) && end(c), {
        ms: 30_000,
        what: () => JSON.stringify(s3.list()),
      });
      assert.equal(s3.status(a)!.state, "done");
      assert.equal(s3.status(b)!.state, "done", JSON.stringify(s3.status(b)));
      assert.equal(
        new TextDecoder().decode(await peer.object(BUCKET, "d1/small.txt")),
        "presigned hello",
      );
      assert.equal(
        await sha256Hex((await peer.object(BUCKET, "d1/big.bin"))!),
        await sha256Hex(await Deno.readFile(big)),
      );
      const refused = s3.status(c)!;
      assert.equal(refused.state, "failed");
      assert.equal(refused.code, "AccessDenied");
      assert.match(refused.error!, /Key must start with "d1\/"/);
      assert.ok(asked.includes("POST uploads"), asked.join("; "));
      assert.equal(asked.filter((x) => x === "PUT partNumber,uploadId").length, 3);
      assert.ok(asked.includes("POST uploadId"));
      // No request of the device reached S3 with credentials of its own: it has none.
      assert.equal(peer.parts.size, 0, "nothing went through the signed (header) endpoint");
    } finally {
      await cloud.endAsync();
    }
  },
});
