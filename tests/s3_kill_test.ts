/**
 * `kill -9` at random moments during a multipart upload (20 times), then a
 * last run to the end: the object in moto equals the file (bytes and
 * SHA-256), every part is in it once, and after each kill the run that
 * follows re-sends at most the parts that were in flight at that kill
 * (`parallel` = 2): parts S3 already held when the run began, counted per
 * run. The
 * agent is a child process (tests/s3_kill_child.ts); moto's S3 sits behind
 * the SigV4-verifying endpoint in this process, which counts the parts.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Database } from "../lib/db/mod.ts";
import { BUCKET, sha256Hex, startS3Moto, writePattern } from "./helpers/s3.ts";

const MiB = 1024 * 1024;
const KILLS = 20;
const SIZE = 60 * MiB + 12345;
const PARTS = Math.ceil(SIZE / (5 * MiB));

function child(dir: string, endpoint: string) {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("./s3_kill_child.ts", import.meta.url).pathname,
      dir,
      endpoint,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

/** Read the child's stdout until a line starting with `prefix`. */
async function lineOf(
  reader: ReadableStreamDefaultReader<string>,
  prefix: string,
): Promise<string> {
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`child ended before "${prefix}" (got "${buf}")`);
    buf += value;
    const line = buf.split("\n").find((l) => l.startsWith(prefix));
    if (line) return line;
  }
}

Deno.test("kill -9 twenty times mid-upload: the object equals the file, only in-flight parts are re-sent", async () => {
  await using peer = await startS3Moto();
  const dir = await Deno.makeTempDir({ prefix: "tern_s3_kill_" });
  await Deno.mkdir(join(dir, "files"));
  const file = join(dir, "files", "big.bin");
  await writePattern(file, SIZE, 42);
  let kills = 0;
  let finishedEarly = false;
  // Per run after a kill: sends of parts S3 already held when the run began
  // (their ETag lost with the kill). At most the parts in flight at that kill.
  const resentPerRun: number[] = [];
  let before = new Map<number, number>();
  const resentSince = () => {
    let n = 0;
    for (const [part, count] of peer.parts) {
      if (before.has(part)) n += count - before.get(part)!;
    }
    before = new Map(peer.parts);
    return n;
  };
  for (let i = 0; i < KILLS; i++) {
    const c = child(dir, peer.url);
    const reader = c.stdout.pipeThrough(new TextDecoderStream()).getReader();
    await lineOf(reader, "ready");
    await new Promise((r) => setTimeout(r, 150 + Math.random() * 900));
    try {
      c.kill("SIGKILL");
    } catch { /* it ended on its own first (the upload may have finished: checked below) */ }
    const st = await c.status;
    assert.ok(st.signal === "SIGKILL" || st.code === 0, `the child failed: exit ${st.code}`);
    await reader.cancel().catch(() => {});
    kills++;
    resentPerRun.push(resentSince());
    const sent = [...peer.parts.values()].reduce((a, b) => a + b, 0);
    if (peer.parts.size === PARTS && sent >= PARTS && (await peer.object(BUCKET, "dev/big.bin"))) {
      finishedEarly = true;
      break;
    }
  }
  const last = child(dir, peer.url);
  const reader = last.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const done = await lineOf(reader, "done");
  await reader.cancel().catch(() => {});
  await last.status;
  resentPerRun.push(resentSince());
  assert.equal(done, "done done");
  const got = await peer.object(BUCKET, "dev/big.bin");
  assert.ok(got);
  assert.equal(got.length, SIZE);
  assert.equal(await sha256Hex(got), await sha256Hex(await Deno.readFile(file)));
  const total = [...peer.parts.values()].reduce((a, b) => a + b, 0);
  assert.deepEqual(
    [...peer.parts.keys()].sort((a, b) => a - b),
    Array.from({ length: PARTS }, (_, i) => i + 1),
  );
  console.log(
    `kills ${kills}${
      finishedEarly ? " (upload ended before the last kill)" : ""
    }, parts ${PARTS}, part requests ${total}, re-sent ${total - PARTS}`,
  );
  assert.ok(total - PARTS <= 2 * kills, `re-sent ${total - PARTS} parts in ${kills} kills`);
  // The first run follows no kill; each later one re-sends at most the `parallel` = 2 in flight.
  console.log(`re-sent after each kill: ${resentPerRun.slice(1).join(" ")}`);
  assert.equal(resentPerRun[0], 0);
  for (const [i, n] of resentPerRun.entries()) {
    assert.ok(n <= 2, `run ${i} (after kill ${i}) re-sent ${n} parts S3 already held`);
  }
  assert.deepEqual(await peer.uploads(BUCKET), [], "no multipart upload left behind");
  // The queue in SQLite is empty; the progress says done.
  const db = Database.open({ path: join(dir, "tern.db"), purgeInterval: 0 });
  try {
    const rows = db.sql.prepare(
      "SELECT s.key, s.value FROM _spool_state s JOIN _spool_streams t ON s.sid = t.sid WHERE t.name = 's3.uploads'",
    ).all() as { key: string; value: string }[];
    assert.equal(rows.length, 1);
    assert.equal(JSON.parse(rows[0]!.value).state, "done");
    const n = db.sql.prepare(
      "SELECT count(*) AS n FROM _spool s JOIN _spool_streams t ON s.sid = t.sid WHERE t.name = 's3.uploads'",
    ).get() as { n: number };
    assert.equal(n.n, 0);
  } finally {
    db.close();
  }
});
