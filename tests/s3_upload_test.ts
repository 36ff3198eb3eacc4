/**
 * S3 uploads end to end, one suite against both emulators (moto's S3
 * behind the SigV4-verifying endpoint, and s3rver): the real Agent with the
 * "cloud.s3" service uploads files, data and streams; the tests read the
 * object back from the emulator and compare bytes and SHA-256, count the
 * parts the emulator answered, and read the queue's rows in SQLite.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Agent } from "../lib/agent.ts";
import { Database } from "../lib/db/mod.ts";
import type { S3Service } from "../lib/cloud/s3/mod.ts";
import { LIBRARY_SERVICES } from "../lib/services.ts";
import { BUCKET, PEERS, s3Config, type S3Peer, sha256Hex, writePattern } from "./helpers/s3.ts";
import { until } from "./helpers/wait.ts";

const MiB = 1024 * 1024;

async function startAgent(dir: string, peer: S3Peer, s3: Record<string, unknown> = {}) {
  const files = join(dir, "files");
  await Deno.mkdir(files, { recursive: true });
  const config = s3Config(peer.url, files, {
    partSize: 5 * MiB,
    multipartThreshold: 5 * MiB,
    ...s3,
  }, peer.credentials);
  const agent = await Agent.start({
    loaded: { config, configDir: dir, stateDir: dir, files: [], secrets: [] },
    factories: LIBRARY_SERVICES,
  });
  return { agent, s3: agent.get<S3Service>("cloud.s3"), files };
}

async function settled(s3: S3Service, id: string, ms = 30_000) {
  await until(() => ["done", "failed", "canceled"].includes(s3.status(id)?.state ?? ""), {
    ms,
    what: () => `upload ${id} to end (${JSON.stringify(s3.status(id))})`,
  });
  return s3.status(id)!;
}

/** Rows of the upload stream in the agent's SQLite file. */
function queueRows(dir: string): number {
  const db = Database.open({ path: join(dir, "tern.db"), purgeInterval: 0 });
  try {
    const row = db.sql.prepare(
      "SELECT count(*) AS n FROM _spool s JOIN _spool_streams t ON s.sid = t.sid WHERE t.name = 's3.uploads'",
    ).get() as { n: number };
    return row.n;
  } finally {
    db.close();
  }
}

for (const { name, start } of PEERS) {
  Deno.test(`[${name}] a small file and an exactly 5 MiB file are uploaded in one PutObject each, bytes equal`, async () => {
    await using peer = await start();
    const dir = await Deno.makeTempDir({ prefix: "tern_s3_" });
    const { agent, s3, files } = await startAgent(dir, peer);
    await using _ = agent;
    await writePattern(join(files, "small.bin"), 1000, 7);
    await writePattern(join(files, "five.bin"), 5 * MiB, 8);
    const events: string[] = [];
    s3.addEventListener("done", (e) => events.push((e as CustomEvent).detail.key));
    const a = await s3.upload({
      file: join(files, "small.bin"),
      key: "dev/small.bin",
      contentType: "application/x-test",
      metadata: { camera: "front" },
    });
    const b = await s3.upload({ file: join(files, "five.bin"), key: "dev/five.bin" });
    assert.equal((await settled(s3, a)).state, "done");
    const pb = await settled(s3, b);
    assert.equal(pb.state, "done");
    assert.equal(pb.parts, 1);
    for (const [file, key] of [["small.bin", "dev/small.bin"], ["five.bin", "dev/five.bin"]]) {
      const want = await Deno.readFile(join(files, file!));
      const got = await peer.object(BUCKET, key!);
      assert.ok(got, `${key} exists`);
      assert.equal(await sha256Hex(got), await sha256Hex(want));
    }
    const h = await peer.head(BUCKET, "dev/small.bin");
    assert.equal(h?.get("content-type"), "application/x-test");
    assert.equal(h?.get("x-amz-meta-camera"), "front");
    assert.equal(peer.parts.get(0), 2);
    assert.deepEqual(events.sort(), ["dev/five.bin", "dev/small.bin"]);
    assert.equal(queueRows(dir), 0);
  });

  Deno.test(`[${name}] a 21 MiB file goes as 5 parts, 2 at a time, each sent once; object equals the file`, async () => {
    await using peer = await start();
    const dir = await Deno.makeTempDir({ prefix: "tern_s3_" });
    const { agent, s3, files } = await startAgent(dir, peer);
    await using _ = agent;
    const file = join(files, "big.bin");
    await writePattern(file, 21 * MiB, 3);
    const id = await s3.upload({ file, key: "dev/big.bin" });
    const p = await settled(s3, id);
    assert.equal(p.state, "done", JSON.stringify(p));
    assert.equal(p.parts, 5);
    assert.equal(p.partsDone, 5);
    assert.equal(p.sent, 21 * MiB);
    const got = await peer.object(BUCKET, "dev/big.bin");
    assert.equal(await sha256Hex(got!), await sha256Hex(await Deno.readFile(file)));
    assert.deepEqual([...peer.parts].sort((x, y) => x[0] - y[0]), [[1, 1], [2, 1], [3, 1], [4, 1], [
      5,
      1,
    ]]);
    // The per-part keys are gone once the upload ended; only its progress stays.
    const states = Object.keys(s3.uploads.stream.states());
    assert.deepEqual(states, [`u:${id}`]);
    if (peer.name === "moto") assert.deepEqual(await peer.uploads(BUCKET), []);
  });

  Deno.test(`[${name}] data and a stream are uploaded from their copy, which is deleted after`, async () => {
    await using peer = await start();
    const dir = await Deno.makeTempDir({ prefix: "tern_s3_" });
    const { agent, s3 } = await startAgent(dir, peer);
    await using _ = agent;
    const a = await s3.upload({
      data: '{"t":21.5}',
      key: "dev/reading.json",
      contentType: "application/json",
    });
    const chunks = [new Uint8Array(3 * MiB).fill(1), new Uint8Array(4 * MiB).fill(2)];
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        const x = chunks.shift();
        if (x) c.enqueue(x);
        else c.close();
      },
    });
    const b = await s3.upload({ stream, key: "dev/stream.bin" });
    assert.equal((await settled(s3, a)).state, "done");
    assert.equal((await settled(s3, b)).state, "done");
    assert.equal(
      new TextDecoder().decode(await peer.object(BUCKET, "dev/reading.json")),
      '{"t":21.5}',
    );
    const got = await peer.object(BUCKET, "dev/stream.bin");
    assert.equal(got?.length, 7 * MiB);
    assert.equal(got?.[3 * MiB - 1], 1);
    assert.equal(got?.[3 * MiB], 2);
    await until(
      async () => (await Array.fromAsync(Deno.readDir(join(dir, "uploads")))).length === 0,
      {
        what: "the copies to be deleted",
      },
    );
  });

  Deno.test(`[${name}] bad input gets a clear error and queues nothing`, async () => {
    await using peer = await start();
    const dir = await Deno.makeTempDir({ prefix: "tern_s3_" });
    const { agent, s3, files } = await startAgent(dir, peer);
    await using _ = agent;
    const outside = join(dir, "secret.txt");
    await Deno.writeTextFile(outside, "x");
    await Deno.symlink(outside, join(files, "link.txt"));
    await assert.rejects(s3.upload({ file: outside, key: "k" }), /not inside an upload directory/);
    await assert.rejects(
      s3.upload({ file: join(files, "link.txt"), key: "k" }),
      /not inside an upload directory/,
    );
    await assert.rejects(s3.upload({ file: join(files, "nope"), key: "k" }), /Cannot read/);
    await assert.rejects(s3.upload({ data: "x", key: "" }), /"key" must be a non-empty string/);
    await assert.rejects(
      s3.upload({ data: "x", key: "k", bucket: "Bad_Bucket" }),
      /Bad bucket name/,
    );
    await assert.rejects(s3.upload({ data: "x", file: "y", key: "k" }), /exactly one of/);
    await assert.rejects(
      s3.upload({ data: "x", key: "k", metadata: { "Bad Name": "v" } }),
      /Bad metadata name/,
    );
    assert.deepEqual(s3.list(), []);
    assert.equal(queueRows(dir), 0);
  });

  Deno.test(`[${name}] 503 and SlowDown are retried; AccessDenied fails the upload with its code`, async () => {
    await using peer = await start();
    const dir = await Deno.makeTempDir({ prefix: "tern_s3_" });
    const { agent, s3, files } = await startAgent(dir, peer);
    await using _ = agent;
    let faults = 0;
    peer.fault = (req, url) => {
      if (req.method !== "PUT" || url.searchParams.get("partNumber") !== "2") return;
      if (faults++ === 0) return new Response("", { status: 503 });
      if (faults === 2) {
        return new Response(
          "<Error><Code>SlowDown</Code><Message>Reduce your request rate</Message></Error>",
          { status: 503 },
        );
      }
      return undefined;
    };
    const file = join(files, "a.bin");
    await writePattern(file, 11 * MiB, 5);
    const id = await s3.upload({ file, key: "dev/a.bin" });
    const p = await settled(s3, id);
    assert.equal(p.state, "done");
    assert.equal(p.retries, 2);
    assert.equal(
      await sha256Hex((await peer.object(BUCKET, "dev/a.bin"))!),
      await sha256Hex(await Deno.readFile(file)),
    );
    peer.fault = (req) =>
      req.method === "PUT"
        ? new Response("<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>", {
          status: 403,
        })
        : undefined;
    const id2 = await s3.upload({ file, key: "dev/denied.bin" });
    const p2 = await settled(s3, id2);
    assert.equal(p2.state, "failed");
    assert.equal(p2.code, "AccessDenied");
    assert.match(p2.error ?? "", /Access Denied/);
    assert.equal(await peer.object(BUCKET, "dev/denied.bin"), undefined);
    if (peer.name === "moto") {
      assert.deepEqual(await peer.uploads(BUCKET), [], "the multipart upload was aborted");
    }
    assert.equal(queueRows(dir), 0);
  });

  Deno.test(`[${name}] "done" and "failed" events carry the progress; deleteAfterUpload removes a file only after success`, async () => {
    await using peer = await start();
    const dir = await Deno.makeTempDir({ prefix: "tern_s3_" });
    const { agent, s3, files } = await startAgent(dir, peer);
    await using _ = agent;
    const events: { type: string; id: string; key: string; etag?: string; code?: string }[] = [];
    for (const type of ["done", "failed"]) {
      s3.addEventListener(type, (e) => {
        const d = (e as CustomEvent).detail;
        events.push({ type, id: d.id, key: d.key, etag: d.etag, code: d.code });
      });
    }
    const ok = join(files, "ok.bin");
    await writePattern(ok, 6 * MiB, 8);
    const want = await sha256Hex(await Deno.readFile(ok));
    const id = await s3.upload({ file: ok, key: "dev/ok.bin", deleteAfterUpload: true });
    await until(() => events.length === 1, { what: "the done event" });
    assert.equal(events[0]!.type, "done");
    assert.equal(events[0]!.id, id);
    assert.equal(events[0]!.key, "dev/ok.bin");
    assert.ok(events[0]!.etag, "the event has the ETag");
    assert.equal(await sha256Hex((await peer.object(BUCKET, "dev/ok.bin"))!), want);
    await until(() => Deno.stat(ok).then(() => false, () => true), { what: "the file deleted" });
    peer.fault = (req) =>
      req.method === "PUT"
        ? new Response("<Error><Code>AccessDenied</Code><Message>no</Message></Error>", {
          status: 403,
        })
        : undefined;
    const kept = join(files, "kept.txt");
    await Deno.writeTextFile(kept, "stays\n");
    const id2 = await s3.upload({ file: kept, key: "dev/kept.txt", deleteAfterUpload: true });
    await until(() => events.length === 2, { what: "the failed event" });
    assert.deepEqual(events[1], {
      type: "failed",
      id: id2,
      key: "dev/kept.txt",
      etag: undefined,
      code: "AccessDenied",
    });
    assert.equal(await Deno.readTextFile(kept), "stays\n", "a failed upload keeps its file");
  });

  Deno.test(`[${name}] a file changed mid-upload fails with FileChanged; no object, upload aborted`, async () => {
    await using peer = await start();
    const dir = await Deno.makeTempDir({ prefix: "tern_s3_" });
    const { agent, s3, files } = await startAgent(dir, peer, { parallel: 1 });
    await using _ = agent;
    const file = join(files, "c.bin");
    await writePattern(file, 16 * MiB, 9);
    let changed = false;
    peer.fault = async (req, url) => {
      if (req.method === "PUT" && url.searchParams.get("partNumber") === "1" && !changed) {
        changed = true;
        const f = await Deno.open(file, { write: true });
        await f.seek(6 * MiB, Deno.SeekMode.Start);
        await f.write(new Uint8Array([1, 2, 3]));
        f.close();
      }
      return undefined;
    };
    const id = await s3.upload({ file, key: "dev/c.bin" });
    const p = await settled(s3, id);
    assert.equal(p.state, "failed");
    assert.equal(p.code, "FileChanged");
    assert.match(p.error!, /changed since it was queued/);
    assert.equal(await peer.object(BUCKET, "dev/c.bin"), undefined);
    if (peer.name === "moto") assert.deepEqual(await peer.uploads(BUCKET), []);
  });

  Deno.test(`[${name}] a network cut mid-part is retried and the object is whole`, async () => {
    await using peer = await start();
    const dir = await Deno.makeTempDir({ prefix: "tern_s3_" });
    const { agent, s3, files } = await startAgent(dir, peer);
    await using _ = agent;
    let cut = 0;
    peer.fault = async (req, url) => {
      if (req.method === "PUT" && url.searchParams.get("partNumber") === "3" && cut++ === 0) {
        // Read part of the body, then drop the connection.
        const reader = req.body?.getReader();
        await reader?.read();
        throw new Error("cut");
      }
      return undefined;
    };
    const file = join(files, "n.bin");
    await writePattern(file, 16 * MiB, 11);
    const id = await s3.upload({ file, key: "dev/n.bin" });
    const p = await settled(s3, id);
    assert.equal(p.state, "done", JSON.stringify(p));
    assert.ok(p.retries >= 1);
    assert.equal(
      await sha256Hex((await peer.object(BUCKET, "dev/n.bin"))!),
      await sha256Hex(await Deno.readFile(file)),
    );
  });

  Deno.test(`[${name}] a canceled upload stops, is aborted and is not retried`, async () => {
    await using peer = await start();
    const dir = await Deno.makeTempDir({ prefix: "tern_s3_" });
    const { agent, s3, files } = await startAgent(dir, peer, { parallel: 1 });
    await using _ = agent;
    let release!: () => void;
    const gate = new Promise<void>((r) => release = r);
    peer.fault = async (req, url) => {
      if (req.method === "PUT" && url.searchParams.get("partNumber") === "1") await gate;
      return undefined;
    };
    const file = join(files, "x.bin");
    await writePattern(file, 16 * MiB, 2);
    const id = await s3.upload({ file, key: "dev/x.bin" });
    await until(() => s3.status(id)?.state === "uploading");
    assert.equal(s3.cancel(id), true);
    release();
    const p = await settled(s3, id);
    assert.equal(p.state, "canceled");
    assert.equal(await peer.object(BUCKET, "dev/x.bin"), undefined);
    assert.ok((peer.parts.get(2) ?? 0) === 0, "no part after the cancel");
    assert.equal(s3.cancel(id), false);
    assert.throws(() => s3.cancel("nope"), RangeError);
  });
}
