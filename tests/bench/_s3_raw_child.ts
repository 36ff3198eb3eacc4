/**
 * The benchmark's reference: a raw multipart loop with the official
 * `@aws-sdk/client-s3` (CreateMultipartUpload, UploadPart × n with 2 parts
 * in flight, CompleteMultipartUpload), each part read from disk into a
 * buffer — what a careful device maker writes by hand, without a queue,
 * persistence or resume. Prints `{"ms", "rssStartMB", "rssPeakMB"}`.
 *
 * Usage: deno run … _s3_raw_child.ts ENDPOINT FILE KEY PART_SIZE
 */

import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { peakRssMB } from "../s3_agent_child.ts";
import { BUCKET } from "../helpers/s3.ts";
import { MOTO_CREDENTIALS, MOTO_REGION } from "../helpers/moto.ts";

const [endpoint, file, key, partArg] = Deno.args;
const partSize = Number(partArg);
const client = new S3Client({
  region: MOTO_REGION,
  endpoint: endpoint!,
  forcePathStyle: true,
  credentials: MOTO_CREDENTIALS,
});
const rssStartMB = Deno.memoryUsage().rss / 1048576;
const t0 = performance.now();
const size = (await Deno.stat(file!)).size;
const count = Math.ceil(size / partSize);
const { UploadId } = await client.send(
  new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key! }),
);
const parts: { PartNumber: number; ETag: string }[] = [];
let next = 1;
const worker = async () => {
  const f = await Deno.open(file!);
  const buf = new Uint8Array(partSize);
  try {
    for (let n = next++; n <= count; n = next++) {
      const len = Math.min(partSize, size - (n - 1) * partSize);
      await f.seek((n - 1) * partSize, Deno.SeekMode.Start);
      let got = 0;
      while (got < len) got += (await f.read(buf.subarray(got, len)))!;
      const r = await client.send(
        new UploadPartCommand({
          Bucket: BUCKET,
          Key: key!,
          UploadId,
          PartNumber: n,
          Body: buf.subarray(0, len),
          ContentLength: len,
        }),
      );
      parts.push({ PartNumber: n, ETag: r.ETag! });
    }
  } finally {
    f.close();
  }
};
await Promise.all([worker(), worker()]);
parts.sort((a, b) => a.PartNumber - b.PartNumber);
await client.send(
  new CompleteMultipartUploadCommand({
    Bucket: BUCKET,
    Key: key!,
    UploadId,
    MultipartUpload: { Parts: parts },
  }),
);
console.log(JSON.stringify({ ms: performance.now() - t0, rssStartMB, rssPeakMB: peakRssMB() }));
