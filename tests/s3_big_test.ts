/**
 * Big files, sparse (no disk blocks, read as zeros, a tail to check):
 *
 * - a 5 GiB file's part plan, as the agent queues it: 1,024 parts of 5 MiB
 *   (≤ 10,000 parts, ≥ 5 MiB); with `maxParts: 500`, 466 parts of 11 MiB.
 * - slow (TERN_SLOW_TESTS=1): a 1 GB file uploaded in constant memory (the
 *   agent in a child process, tests/s3_agent_child.ts, so its own peak RSS
 *   is measured: growth ≤ 30 MB), and the 5 GiB file uploaded for real with
 *   the non-minimal 11 MiB parts (`maxParts: 500`: 10,000 parts of 5 MiB
 *   hold 48.8 GiB, so only a lower part limit makes a 5 GiB file need larger
 *   parts), each part sent once; both objects have the file's size and
 *   SHA-256. Against s3rver (it keeps objects on disk; moto keeps them in
 *   memory).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Agent } from "../lib/agent.ts";
import type { S3Service } from "../lib/cloud/s3/mod.ts";
import { LIBRARY_SERVICES } from "../lib/services.ts";
import { BUCKET, s3Config, startS3rver } from "./helpers/s3.ts";
import { skipUnlessSlow } from "./helpers/peers.ts";

const MiB = 1024 * 1024;
const GB = 1024 * MiB;

/** A sparse file of `size` bytes ending in "tern!". */
async function sparse(path: string, size: number): Promise<void> {
  using f = await Deno.open(path, { write: true, create: true });
  await f.truncate(size);
  await f.seek(size - 5, Deno.SeekMode.Start);
  await f.write(new TextEncoder().encode("tern!"));
}

/** SHA-256 (hex) of a stream. */
async function hash(s: ReadableStream<Uint8Array>): Promise<string> {
  const { createHash } = await import("node:crypto");
  const h = createHash("sha256");
  for await (const c of s) h.update(c);
  return h.digest("hex");
}

/** Run the agent child on one file; its JSON line. */
async function upload(dir: string, endpoint: string, file: string, key: string, s3 = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("./s3_agent_child.ts", import.meta.url).pathname,
      dir,
      endpoint,
      file,
      key,
      JSON.stringify(s3),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(out.success, "child exited 0");
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
}

Deno.test("a sparse 5 GiB file is planned as 1,024 parts of 5 MiB, or 466 of 11 MiB under maxParts 500", async () => {
  await using peer = await startS3rver();
  peer.fault = () => new Response("<Error><Code>SlowDown</Code></Error>", { status: 503 });
  const dir = await Deno.makeTempDir({ prefix: "tern_s3_plan_" });
  const files = join(dir, "files");
  await Deno.mkdir(files);
  const file = join(files, "five.bin");
  await sparse(file, 5 * GB);
  for (const [maxParts, partMiB, parts] of [[10_000, 5, 1024], [500, 11, 466]] as const) {
    const config = s3Config(peer.url, files, { maxParts });
    const state = join(dir, `state${maxParts}`);
    await Deno.mkdir(state);
    await using agent = await Agent.start({
      loaded: { config, configDir: dir, stateDir: state, files: [], secrets: [] },
      factories: LIBRARY_SERVICES,
    });
    const s3 = agent.get<S3Service>("cloud.s3");
    const id = await s3.upload({ file, key: "dev/five.bin" });
    const p = s3.status(id)!;
    assert.equal(p.size, 5 * GB);
    assert.equal(p.partSize, partMiB * MiB);
    assert.equal(p.parts, parts);
    assert.ok(p.parts <= 10_000 && p.partSize >= 5 * MiB);
    assert.equal(s3.cancel(id), true);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name:
    "a sparse 5 GiB file goes up for real in 466 parts of 11 MiB (maxParts 500), each sent once",
  ignore: skipUnlessSlow(import.meta.url),
  async fn() {
    await using peer = await startS3rver();
    const dir = await Deno.makeTempDir({ prefix: "tern_s3_five_" });
    const files = join(dir, "files");
    await Deno.mkdir(files);
    const file = join(files, "five.bin");
    await sparse(file, 5 * GB);
    const r = await upload(dir, peer.url, file, "dev/five.bin", { maxParts: 500 });
    console.log(
      `5 GiB in ${(r.ms / 1000).toFixed(1)} s (${(5 * 1024 / (r.ms / 1000)).toFixed(0)} MiB/s), ` +
        `${r.parts} parts of ${r.partSize / MiB} MiB, RSS ${
          r.rssStartMB.toFixed(1)
        } MB at queue, ` +
        `peak ${r.rssPeakMB.toFixed(1)} MB`,
    );
    assert.equal(r.state, "done", r.error);
    assert.equal(r.partSize, 11 * MiB);
    assert.equal(r.parts, 466);
    assert.equal(peer.parts.size, 466);
    assert.ok([...peer.parts.values()].every((n) => n === 1), "each part sent once");
    // Memory is parallel × partSize: 2 × 6 MiB more than with 5 MiB parts.
    assert.ok(r.rssPeakMB - r.rssStartMB <= 30 + 12, `RSS grew ${r.rssPeakMB - r.rssStartMB} MB`);
    const head = await peer.head(BUCKET, "dev/five.bin");
    assert.equal(Number(head?.get("content-length")), 5 * GB);
    const obj = await peer.stream(BUCKET, "dev/five.bin");
    assert.equal(await hash(obj!), await hash((await Deno.open(file)).readable));
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "a sparse 1 GB file is uploaded in constant memory (RSS growth ≤ 30 MB) and arrives whole",
  ignore: skipUnlessSlow(import.meta.url),
  async fn() {
    await using peer = await startS3rver();
    const dir = await Deno.makeTempDir({ prefix: "tern_s3_big_" });
    const files = join(dir, "files");
    await Deno.mkdir(files);
    const file = join(files, "sparse.bin");
    await sparse(file, GB);
    const r = await upload(dir, peer.url, file, "dev/sparse.bin");
    console.log(
      `1 GB in ${(r.ms / 1000).toFixed(1)} s (${
        (GB / 1048576 / (r.ms / 1000)).toFixed(0)
      } MiB/s), ` +
        `RSS ${r.rssStartMB.toFixed(1)} MB at queue, peak ${
          r.rssPeakMB.toFixed(1)
        } MB, ${r.parts} parts`,
    );
    assert.equal(r.state, "done", r.error);
    assert.ok(
      r.rssPeakMB - r.rssStartMB <= 30,
      `RSS grew ${(r.rssPeakMB - r.rssStartMB).toFixed(1)} MB`,
    );
    const head = await peer.head(BUCKET, "dev/sparse.bin");
    assert.equal(Number(head?.get("content-length")), GB);
    // The object's SHA-256 equals the file's, both streamed.
    const obj = await peer.stream(BUCKET, "dev/sparse.bin");
    assert.equal(await hash(obj!), await hash((await Deno.open(file)).readable));
    await Deno.remove(dir, { recursive: true });
  },
});
