/**
 * PutLogEvents limits, each at and just past its edge, checked on the request
 * bytes that reached the SigV4-verifying endpoint (moto checks only order
 * and age) and on the events in moto: 10,000 events, 1,048,576 bytes with 26
 * per event, a 24-hour span, 256 KB per event (split and marked), 14 days
 * old and 2 hours ahead (counted and dropped), chronological order. Also:
 * a refused event never blocks its stream, throttling is retried with
 * backoff, and a batch whose answer was lost is not sent twice.
 */

import assert from "node:assert/strict";

import { systemClock } from "../lib/clock.ts";
import { HttpClient } from "../lib/http/mod.ts";
import {
  cutBatch,
  encodeEvent,
  EVENT_OVERHEAD,
  eventRecord,
  LogSender,
  MAX_AGE_MS,
  MAX_AHEAD_MS,
  MAX_MESSAGE_BYTES,
  MAX_SPAN_MS,
  splitMessage,
} from "../lib/cloud/logs/mod.ts";
import { Spool, type SpoolStream } from "../lib/cloud/mod.ts";
import { Database } from "../lib/db/mod.ts";
import { LogHub, RingSink } from "../lib/log/mod.ts";
import type { VerifiedRequest } from "./helpers/aws_sigv4_server.ts";
import {
  answered,
  getLogEvents,
  logsClient,
  type Moto,
  startLogsEndpoint,
  startMoto,
} from "./helpers/moto.ts";

const G = "/tern/limits";

interface Put {
  events: { timestamp: number; message: string }[];
  bytes: number;
}

/** The PutLogEvents calls among `requests`, with their size as AWS counts it. */
function puts(requests: VerifiedRequest[], stream?: string): Put[] {
  const enc = new TextEncoder();
  return requests.filter((r) =>
    r.target === "Logs_20140328.PutLogEvents" && answered.get(r) === 200
  )
    .map((r) => r.json as { logStreamName: string; logEvents: Put["events"] })
    .filter((j) => !stream || j.logStreamName === stream)
    .map((j) => ({
      events: j.logEvents,
      bytes: j.logEvents.reduce((n, e) => n + enc.encode(e.message).length + EVENT_OVERHEAD, 0),
    }));
}

let moto: Moto;
let n = 0;

/** A spool stream and sender on an in-memory database, to `endpoint`. */
function sender(
  endpoint: string,
  opts: { backoff?: { min: number; max: number }; timeoutMs?: number } = {},
) {
  const db = Database.open({ path: ":memory:", purgeInterval: 0 });
  const ring = new RingSink(200);
  const log = new LogHub({ sinks: [ring] }).logger("cloud.logs");
  const spool = Spool.of(db, { clock: systemClock, log });
  const stream = spool.stream(`logs.t${n++}`, { maxRecords: 1_000_000, maxBytes: 1 << 30 });
  const client = logsClient(endpoint, {
    ...(opts.timeoutMs
      ? {
        http: new HttpClient({
          timeoutMs: opts.timeoutMs,
          headersTimeoutMs: opts.timeoutMs,
          retries: 0,
        }),
      }
      : {}),
  });
  const s = new LogSender({
    stream,
    client,
    clock: systemClock,
    log,
    confirmDelay: 0,
    backoff: opts.backoff ?? { min: 1, max: 5 },
  });
  return {
    db,
    stream,
    sender: s,
    ring,
    async drain() {
      for (let i = 0; i < 10_000; i++) {
        const r = await s.step();
        if (r === "idle") return;
        if (r === "retry") await new Promise((res) => setTimeout(res, 5));
      }
      throw new Error("drain did not finish");
    },
    async [Symbol.asyncDispose]() {
      await client[Symbol.asyncDispose]();
      db.close();
    },
  };
}

function add(stream: SpoolStream, name: string, events: { time: number; message: string }[]) {
  stream.append(events.map((e) => eventRecord(G, name, e.message, e.time)));
}

Deno.test({
  name: "PutLogEvents limits at and past each edge, checked on the request bytes and in moto",
  sanitizeResources: false, // moto's process is shared by the file's steps and stopped at the end
  async fn(t) {
    moto = await startMoto();
    try {
      await using ep = await startLogsEndpoint(moto);
      const now = Date.now();

      await t.step("10,000 events go in one call; 10,001 in two", async () => {
        await using s = sender(ep.url);
        const ev = (k: number) =>
          Array.from({ length: k }, (_, i) => ({ time: now - 1000 + (i % 100), message: `e${i}` }));
        add(s.stream, "count-edge", ev(10_000));
        add(s.stream, "count-past", ev(10_001));
        await s.drain();
        assert.deepEqual(puts(ep.requests, "count-edge").map((p) => p.events.length), [10_000]);
        assert.deepEqual(puts(ep.requests, "count-past").map((p) => p.events.length), [10_000, 1]);
        assert.equal((await getLogEvents(moto, G, "count-past")).length, 10_001);
      });

      await t.step(
        "1,048,576 bytes (26 per event) go in one call; one byte more in two",
        async () => {
          await using s = sender(ep.url);
          // 16 events: 15 of 65,510 bytes + 26, and one that fills the batch exactly.
          const big = 65_536 - EVENT_OVERHEAD;
          const msgs = Array.from({ length: 16 }, (_, i) => `${i}`.padEnd(big, "x"));
          add(s.stream, "bytes-edge", msgs.map((m) => ({ time: now, message: m })));
          const past = [...msgs];
          past[15] = past[15] + "y";
          add(s.stream, "bytes-past", past.map((m) => ({ time: now, message: m })));
          await s.drain();
          assert.deepEqual(puts(ep.requests, "bytes-edge").map((p) => p.bytes), [1_048_576]);
          assert.deepEqual(puts(ep.requests, "bytes-past").map((p) => p.events.length), [15, 1]);
          for (const p of puts(ep.requests)) assert.ok(p.bytes <= 1_048_576);
        },
      );

      await t.step("a 24-hour span goes in one call; 24 hours and 1 ms in two", async () => {
        await using s = sender(ep.url);
        const start = now - 25 * 3_600_000;
        add(s.stream, "span-edge", [{ time: start, message: "a" }, {
          time: start + MAX_SPAN_MS,
          message: "b",
        }]);
        add(s.stream, "span-past", [{ time: start, message: "a" }, {
          time: start + MAX_SPAN_MS + 1,
          message: "b",
        }]);
        await s.drain();
        assert.deepEqual(puts(ep.requests, "span-edge").map((p) => p.events.length), [2]);
        assert.deepEqual(puts(ep.requests, "span-past").map((p) => p.events.length), [1, 1]);
      });

      await t.step("events out of order are sent sorted by timestamp", async () => {
        await using s = sender(ep.url);
        add(s.stream, "order", [3, 1, 2].map((k) => ({ time: now - k * 1000, message: `m${k}` })));
        await s.drain();
        const [p] = puts(ep.requests, "order");
        assert.deepEqual(p!.events.map((e) => e.message), ["m3", "m2", "m1"]);
        assert.deepEqual((await getLogEvents(moto, G, "order")).map((e) => e.message), [
          "m3",
          "m2",
          "m1",
        ]);
      });

      await t.step("a 256 KB event goes whole; one byte more is split and marked", () => {
        const edge = "é".repeat(MAX_MESSAGE_BYTES / 2);
        assert.deepEqual(splitMessage(edge), [edge]);
        const parts = splitMessage(edge + "z");
        assert.equal(parts.length, 2);
        assert.ok(parts[0]!.startsWith("[part 1/2] ") && parts[1]!.startsWith("[part 2/2] "));
        const enc = new TextEncoder();
        for (const p of parts) assert.ok(enc.encode(p).length <= MAX_MESSAGE_BYTES);
        assert.equal(parts.map((p) => p.replace(/^\[part \d\/2\] /, "")).join(""), edge + "z");
      });

      await t.step(
        "events older than 14 days or over 2 hours ahead are counted and dropped",
        async () => {
          await using s = sender(ep.url);
          const t = Date.now();
          add(s.stream, "age", [
            { time: t - MAX_AGE_MS - 60_000, message: "too old" },
            { time: t - MAX_AGE_MS + 60_000, message: "old enough" },
            { time: t + MAX_AHEAD_MS - 60_000, message: "ahead enough" },
            { time: t + MAX_AHEAD_MS + 60_000, message: "too new" },
          ]);
          await s.drain();
          const sent = puts(ep.requests, "age").flatMap((p) => p.events.map((e) => e.message));
          assert.deepEqual(sent, ["old enough", "ahead enough"]);
          assert.deepEqual((await getLogEvents(moto, G, "age")).map((e) => e.message), sent);
          const st = s.stream.status();
          assert.equal(st.refused, 2);
          assert.equal(st.sent, 2);
          assert.equal(st.backlog, 0);
          // The same rule, on the batch cutter alone.
          const b = cutBatch([
            { id: 1, time: t - MAX_AGE_MS - 1, bytes: 20, data: encodeEvent(G, "x", "a") },
          ], { now: t });
          assert.equal(b!.tooOld, 1);
          assert.equal(b!.events.length, 0);
        },
      );

      await t.step("an event refused with InvalidParameterException is dropped alone", async () => {
        await using bad = await startLogsEndpoint(moto, {
          intercept: (r) => {
            const j = r.json as { logEvents?: { message: string }[] };
            if (j?.logEvents?.some((e) => e.message === "poison")) {
              return Response.json({
                __type: "InvalidParameterException",
                message: "Log event message is not valid",
              }, { status: 400 });
            }
            return undefined;
          },
        });
        await using s = sender(bad.url);
        const msgs = Array.from({ length: 20 }, (_, i) => i === 13 ? "poison" : `ok${i}`);
        add(s.stream, "refused", msgs.map((m, i) => ({ time: now + i, message: m })));
        await s.drain();
        const got = (await getLogEvents(moto, G, "refused")).map((e) => e.message);
        assert.deepEqual(got, msgs.filter((m) => m !== "poison"));
        assert.equal(s.stream.status().refused, 1);
        assert.equal(s.stream.backlog, 0);
      });

      await t.step(
        "ThrottlingException is retried with backoff until it goes through",
        async () => {
          let throttled = 0;
          await using slow = await startLogsEndpoint(moto, {
            intercept: (r) => {
              if (r.target?.endsWith("PutLogEvents") && throttled < 3) {
                throttled++;
                return Response.json({ __type: "ThrottlingException", message: "Rate exceeded" }, {
                  status: 400,
                });
              }
              return undefined;
            },
          });
          await using s = sender(slow.url, { backoff: { min: 20, max: 40 } });
          add(s.stream, "throttled", [{ time: now, message: "eventually" }]);
          const started = Date.now();
          const stop = new AbortController();
          const run = s.sender.run(stop.signal);
          while ((await getLogEvents(moto, G, "throttled").catch(() => [])).length === 0) {
            if (Date.now() - started > 10_000) throw new Error("never sent");
            await new Promise((r) => setTimeout(r, 20));
          }
          stop.abort();
          await run;
          assert.equal(throttled, 3);
          assert.match(s.stream.status().lastError ?? "", /ThrottlingException/);
          assert.equal((await getLogEvents(moto, G, "throttled")).length, 1);
        },
      );

      await t.step(
        "a batch whose answer was lost is found in CloudWatch and not sent again",
        async () => {
          let lost = 0;
          await using flaky = await startLogsEndpoint(moto, {
            intercept: async (r) => {
              if (r.target?.endsWith("PutLogEvents") && lost === 0) {
                lost++;
                // CloudWatch stores the batch, but the answer never reaches the device.
                await moto.logs("PutLogEvents", r.json);
                await new Promise((res) => setTimeout(res, 800));
                return Response.json({});
              }
              return undefined;
            },
          });
          await using s = sender(flaky.url, { timeoutMs: 300 });
          await moto.logs("CreateLogStream", { logGroupName: G, logStreamName: "lost" }).catch(
            () => {},
          );
          add(s.stream, "lost", [{ time: now, message: "once" }, {
            time: now + 1,
            message: "twice?",
          }]);
          await s.drain();
          assert.equal(lost, 1);
          assert.deepEqual((await getLogEvents(moto, G, "lost")).map((e) => e.message), [
            "once",
            "twice?",
          ]);
          assert.equal(s.stream.backlog, 0);
          assert.ok(
            s.ring.entries().some((e) => /found in CloudWatch/.test(e.msg)),
            "confirmed instead of resent",
          );
        },
      );
      assert.equal(ep.rejected, 0);
    } finally {
      await moto[Symbol.asyncDispose]();
    }
  },
});
