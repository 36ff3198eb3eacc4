/**
 * A 1 GB file (sparse) uploaded in constant memory: the agent runs in a
 * child process (tests/s3_agent_child.ts) so its own peak RSS (VmHWM) is
 * measured, not the emulator's; the growth from when the upload was queued
 * to the peak stays ≤ 30 MB, and the object in the emulator has the file's
 * size and SHA-256. Against s3rver (it keeps objects on disk; moto keeps
 * them in memory). Slow (about a minute): run with TERN_SLOW_TESTS=1.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { BUCKET, startS3rver } from "./helpers/s3.ts";
import { skipUnlessSlow } from "./helpers/peers.ts";

const GB = 1024 * 1024 * 1024;

Deno.test({
  name: "a sparse 1 GB file is uploaded in constant memory (RSS growth ≤ 30 MB) and arrives whole",
  ignore: skipUnlessSlow(import.meta.url),
  async fn() {
    await using peer = await startS3rver();
    const dir = await Deno.makeTempDir({ prefix: "tern_s3_big_" });
    const files = join(dir, "files");
    await Deno.mkdir(files);
    const file = join(files, "sparse.bin");
    {
      using f = await Deno.open(file, { write: true, create: true });
      await f.truncate(GB); // sparse: no disk blocks, reads as zeros
      await f.seek(GB - 5, Deno.SeekMode.Start);
      await f.write(new TextEncoder().encode("tern!")); // a tail to check
    }
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        new URL("./s3_agent_child.ts", import.meta.url).pathname,
        dir,
        peer.url,
        file,
        "dev/sparse.bin",
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    assert.ok(out.success, "child exited 0");
    const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
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
    const hash = async (s: ReadableStream<Uint8Array>) => {
      const { createHash } = await import("node:crypto");
      const h = createHash("sha256");
      for await (const c of s) h.update(c);
      return h.digest("hex");
    };
    const obj = await peer.stream(BUCKET, "dev/sparse.bin");
    const got = await hash(obj!);
    const want = await hash((await Deno.open(file)).readable);
    assert.equal(got, want);
    await Deno.remove(dir, { recursive: true });
  },
});
