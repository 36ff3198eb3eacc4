/**
 * File sources and the spool under stress, asserted on the rows in SQLite and
 * the events in moto: rotation by rename and by copytruncate while the file
 * is written, a restart after a rotation that happened while the agent was
 * down, multiline events and a last line without its newline (linger), a
 * 2-hour outage (fake clock) with 100,000 lines backlogged, and a full spool.
 */

import assert from "node:assert/strict";
import { join } from "node:path";

import { FakeClock } from "../lib/clock.ts";
import { decodeRecord, FileSource, LogSender } from "../lib/cloud/logs/mod.ts";
import { Spool, type SpoolStream } from "../lib/cloud/mod.ts";
import { Database } from "../lib/db/mod.ts";
import { LogHub, RingSink } from "../lib/log/mod.ts";
import { getLogEvents, logsClient, startLogsEndpoint, startMoto } from "./helpers/moto.ts";

const DEST = {
  group: "/tern/files",
  stream: "{thing}/{file}",
  values: { thing: "d1", device: "d1" },
};

async function setup(opts: { maxRecords?: number } = {}) {
  const dir = await Deno.makeTempDir({ prefix: "tern_logs_files_" });
  const db = Database.open({ path: join(dir, "tern.db"), purgeInterval: 0 });
  const clock = new FakeClock(Date.now());
  const ring = new RingSink(500);
  const log = new LogHub({ sinks: [ring] }).logger("cloud.logs");
  const spool = Spool.of(db, { clock, log });
  const stream = spool.stream("logs.file.0", {
    maxRecords: opts.maxRecords ?? 1_000_000,
    maxBytes: 1 << 30,
  });
  const source = (extra: Partial<ConstructorParameters<typeof FileSource>[0]> = {}) =>
    new FileSource({
      pattern: join(dir, "*.log"),
      spool: stream,
      dest: DEST,
      clock,
      log,
      linger: 1000,
      ...extra,
    });
  return {
    dir,
    db,
    clock,
    ring,
    stream,
    source,
    async [Symbol.asyncDispose]() {
      db.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Messages stored in the spool, oldest first. */
function stored(stream: SpoolStream): string[] {
  return stream.peek({ maxRecords: 1_000_000 }).map((r) => decodeRecord(r).message);
}

const lines = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `line ${from + i}`);

async function append(path: string, ls: string[]) {
  await Deno.writeTextFile(path, ls.map((l) => l + "\n").join(""), { append: true });
}

Deno.test("rotation by rename while writing loses no line and repeats none", async () => {
  await using s = await setup();
  const src = s.source();
  const log = join(s.dir, "app.log");
  await append(log, lines(0, 100));
  await src.poll();
  await append(log, lines(100, 150)); // written before the rename, not yet read
  await Deno.rename(log, join(s.dir, "app.log.1"));
  await append(log, lines(150, 200)); // the new file
  await src.poll();
  await s.clock.advance(2000); // the renamed file is idle: finished and closed
  await src.poll();
  assert.deepEqual(stored(s.stream), lines(0, 200));
  assert.deepEqual(src.files().map((f) => f.path), [log]);
  src.close();
});

Deno.test("rotation by copytruncate while writing loses no line and repeats none", async () => {
  await using s = await setup();
  const src = s.source();
  const log = join(s.dir, "app.log");
  await append(log, lines(0, 100));
  await src.poll();
  await append(log, lines(100, 130));
  await Deno.copyFile(log, join(s.dir, "app.log.1"));
  await Deno.truncate(log, 0);
  await append(log, lines(130, 140)); // the writer goes on at the start of the file
  await src.poll();
  await append(log, lines(140, 300)); // grown past the old position before the next poll
  await src.poll();
  assert.deepEqual(stored(s.stream), lines(0, 300));
  // And once more, when the truncated file has grown past the old offset before a poll.
  await Deno.copyFile(log, join(s.dir, "app.log.1"));
  await Deno.truncate(log, 0);
  await append(log, lines(300, 700));
  await src.poll();
  assert.deepEqual(stored(s.stream), lines(0, 700));
  src.close();
});

Deno.test("after a restart, a file renamed while the agent was down is finished first", async () => {
  await using s = await setup();
  const log = join(s.dir, "app.log");
  await append(log, lines(0, 10));
  const first = s.source();
  await first.poll();
  first.close(); // the agent stops (or dies): the position is in the spool's state
  await append(log, lines(10, 20));
  await Deno.rename(log, join(s.dir, "app.log.1"));
  await append(log, lines(20, 30));
  const second = s.source();
  await second.poll();
  await s.clock.advance(2000);
  await second.poll();
  assert.deepEqual(stored(s.stream).sort(), lines(0, 30).sort());
  assert.equal(stored(s.stream).length, 30);
  // A third start reads nothing again.
  second.close();
  const third = s.source();
  assert.equal(await third.poll(), 0);
  third.close();
});

Deno.test("multiline events join their lines; a last line without newline goes after linger", async () => {
  await using s = await setup();
  const src = s.source({ multiline: /^\d{4}-/ });
  const log = join(s.dir, "app.log");
  const t = "2026-01-02T03:04:05.000Z";
  await Deno.writeTextFile(log, `${t} error\n  at a\n  at b\n${t} next\n  at c\n${t} partial`);
  await src.poll();
  assert.deepEqual(stored(s.stream), [`${t} error\n  at a\n  at b`, `${t} next\n  at c`]);
  await s.clock.advance(500);
  await src.poll();
  assert.equal(stored(s.stream).length, 2, "not before the linger time");
  await s.clock.advance(600);
  await src.poll();
  assert.deepEqual(stored(s.stream).at(-1), `${t} partial`);
  const rows = s.stream.peek();
  assert.equal(rows[0]!.time, Date.parse(t), "the line's own time");
  src.close();
});

Deno.test("a full spool drops the oldest lines, counts them and says so once", async () => {
  await using s = await setup({ maxRecords: 100 });
  const src = s.source();
  await append(join(s.dir, "app.log"), lines(0, 250));
  await src.poll();
  await Promise.resolve();
  assert.deepEqual(stored(s.stream), lines(150, 250));
  const st = s.stream.status();
  assert.equal(st.dropped, 150);
  assert.equal(st.backlog, 100);
  assert.equal(
    s.ring.entries({ level: "warn" }).filter((e) => /is full/.test(e.msg)).length,
    1,
  );
  src.close();
});

Deno.test("a 2-hour outage with 100,000 lines backlogged: all arrive once when CloudWatch is back", async () => {
  await using moto = await startMoto();
  let down = true;
  let refusedCalls = 0;
  await using ep = await startLogsEndpoint(moto, {
    intercept: () => {
      if (!down) return undefined;
      refusedCalls++;
      return Response.json({ __type: "ServiceUnavailableException", message: "down" }, {
        status: 503,
      });
    },
  });
  await using s = await setup();
  const src = s.source();
  const log = join(s.dir, "app.log");
  const t0 = s.clock.now();
  const N = 100_000;
  let text = "";
  for (let i = 0; i < N; i++) text += `${new Date(t0 + Math.floor(i / 20)).toISOString()} l ${i}\n`;
  await Deno.writeTextFile(log, text);
  while (await src.poll() > 0) { /* read the whole file */ }
  assert.equal(s.stream.backlog, N);
  await using client = logsClient(ep.url, { clock: s.clock });
  const sender = new LogSender({
    stream: s.stream,
    client,
    clock: s.clock,
    log: new LogHub({ sinks: [s.ring] }).logger("cloud.logs"),
    confirmDelay: 0,
    flushInterval: 0,
    backoff: { min: 1000, max: 300_000 },
  });
  const stop = new AbortController();
  const run = sender.run(stop.signal);
  // Two hours of fake time pass with CloudWatch unavailable.
  for (let m = 0; m < 120; m++) await s.clock.advance(60_000);
  assert.ok(
    refusedCalls >= 10 && refusedCalls <= 200,
    `${refusedCalls} attempts in 2 h: backed off`,
  );
  assert.equal(s.stream.backlog, N, "nothing lost while down");
  down = false;
  const end = Date.now() + 40_000;
  while (s.stream.backlog > 0 && Date.now() < end) await s.clock.advance(60_000);
  stop.abort();
  await run;
  const got = await getLogEvents(moto, "/tern/files", "d1/app.log");
  assert.equal(got.length, N);
  const seen = new Set(got.map((e) => e.message));
  assert.equal(seen.size, N, "no line twice");
  assert.equal(got[N - 1]!.timestamp, t0 + Math.floor((N - 1) / 20), "own timestamps");
  assert.equal(s.stream.status().sent, N);
  src.close();
});
