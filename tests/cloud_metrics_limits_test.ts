/**
 * Every PutMetricData limit at and past its edge, on the request bytes and in
 * moto: ≤ 1,000 datums and ≤ 1 MB per request, gzip from 10,240 bytes,
 * 30 dimensions of 1,024 characters, ≤ 150 values per array, the −14 days /
 * +2 h window (counted and dropped), a datum CloudWatch refuses (the batch
 * halved until it is alone, then dropped; the rest arrives), and the kept
 * order of periods.
 */

import assert from "node:assert/strict";
import { systemClock } from "../lib/clock.ts";
import { type Datum, MAX_AGE_MS, MAX_AHEAD_MS, PutSender } from "../lib/cloud/metrics/mod.ts";
import { Spool } from "../lib/cloud/mod.ts";
import { Database } from "../lib/db/mod.ts";
import { HttpClient } from "../lib/http/mod.ts";
import { configSchema } from "../lib/config/mod.ts";
import { LogHub, RingSink } from "../lib/log/mod.ts";
import type { VerifiedRequest } from "./helpers/aws_sigv4_server.ts";
import { type Moto, startMoto } from "./helpers/moto.ts";
import {
  metricsClient,
  requestJson,
  startMetricsEndpoint,
  statistics,
} from "./helpers/moto_metrics.ts";

const MINUTE = 60_000;
const NOW0 = Math.floor(Date.now() / MINUTE) * MINUTE;
let moto: Moto;
let n = 0;

function datum(name: string, t: number, extra: Partial<Datum> = {}): Datum {
  return {
    n: name,
    u: "Count",
    d: [["Device", "d1"]],
    t,
    r: 60,
    c: 2,
    s: 3,
    mn: 1,
    mx: 2,
    ...extra,
  };
}

function sender(endpoint: string) {
  const db = Database.open({ path: ":memory:", purgeInterval: 0 });
  const ring = new RingSink(200);
  const log = new LogHub({ sinks: [ring] }).logger("cloud.metrics");
  const spool = Spool.of(db, { clock: systemClock, log });
  const stream = spool.stream(`metrics.t${n++}`, { maxRecords: 1_000_000, maxBytes: 1 << 30 });
  const s = new PutSender({
    stream,
    client: metricsClient(endpoint),
    clock: systemClock,
    log,
    namespace: "Tern",
    backoff: { min: 1, max: 5 },
  });
  const append = (ds: Datum[]) =>
    stream.append(ds.map((d) => ({ time: d.t, data: JSON.stringify(d) })));
  return { s, stream, append, ring, db };
}

async function drain(s: PutSender): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const r = await s.step();
    if (r === "idle") return;
    if (r === "retry") throw new Error(`a retry: ${s.stream.status().lastError}`);
  }
  throw new Error("not drained");
}

const puts = (reqs: VerifiedRequest[]) =>
  reqs.filter((r) => r.target === "GraniteServiceVersion20100801.PutMetricData");

Deno.test.beforeAll(async () => {
  moto = await startMoto();
});
Deno.test.afterAll(async () => {
  await moto[Symbol.asyncDispose]();
});

Deno.test("2,500 datums go as requests of at most 1,000, gzipped past 10,240 bytes, all in moto", async () => {
  await using ep = await startMetricsEndpoint(moto);
  const { s, append, db } = sender(ep.url);
  try {
    // One datum per minute over the last 2,500 minutes (≈ 41 h), oldest first.
    const start = NOW0 - 2500 * MINUTE;
    append(
      Array.from({ length: 2500 }, (_, i) => datum("Many", start + i * MINUTE, { s: i, mx: i })),
    );
    await drain(s);
    const reqs = puts(ep.requests);
    assert.deepEqual(reqs.map((r) => (requestJson(r).MetricData as unknown[]).length), [
      1000,
      1000,
      500,
    ]);
    for (const r of reqs) {
      assert.equal(
        r.headers.get("content-encoding"),
        "gzip",
        "a body past 10,240 bytes is gzipped",
      );
      assert.ok(r.body.length < 1_000_000);
    }
    // Order kept: each request's timestamps ascend and follow the previous request's.
    const ts = reqs.flatMap((r) =>
      (requestJson(r).MetricData as { Timestamp: number }[]).map((d) => d.Timestamp)
    );
    assert.deepEqual(ts, Array.from({ length: 2500 }, (_, i) => (start + i * MINUTE) / 1000));
    let got = 0;
    for (let from = start; from < NOW0; from += 1000 * MINUTE) {
      const points = await statistics(moto, {
        name: "Many",
        dimensions: { Device: "d1" },
        start: from,
        end: Math.min(NOW0, from + 1000 * MINUTE),
      });
      got += points.length;
      for (const p of points) assert.equal(p.SampleCount, 2);
    }
    assert.equal(got, 2500, "every period once");
    assert.equal(s.datums, 2500);
    assert.equal(ep.rejected, 0);
    // A small request is not compressed.
    append([datum("Small", NOW0 - MINUTE)]);
    await drain(s);
    const small = puts(ep.requests).at(-1)!;
    assert.equal(small.headers.get("content-encoding"), null);
    assert.ok(small.body.length < 10_240);
  } finally {
    db.close();
  }
});

Deno.test("requests stay within 1 MB: 30 dimensions of 1,024 characters per datum", async () => {
  await using ep = await startMetricsEndpoint(moto);
  const { s, append, db } = sender(ep.url);
  try {
    const dims: [string, string][] = [["Device", "d1"]];
    for (let i = 1; i < 30; i++) {
      dims.push([`D${String(i).padStart(2, "0")}`, String(i % 10).repeat(1024)]);
    }
    append(
      Array.from({ length: 100 }, (_, i) => datum("Wide", NOW0 - (100 - i) * MINUTE, { d: dims })),
    );
    await drain(s);
    const reqs = puts(ep.requests);
    assert.ok(reqs.length >= 4, `${reqs.length} requests`);
    let total = 0;
    for (const r of reqs) {
      const raw = JSON.stringify(requestJson(r));
      assert.ok(raw.length <= 1_000_000, `${raw.length} bytes uncompressed`);
      const data = requestJson(r).MetricData as { Dimensions: unknown[] }[];
      for (const d of data) assert.equal(d.Dimensions.length, 30);
      total += data.length;
    }
    assert.equal(total, 100);
    const points = await statistics(moto, {
      name: "Wide",
      dimensions: Object.fromEntries(dims),
      start: NOW0 - 100 * MINUTE,
      end: NOW0,
    });
    assert.equal(points.length, 100);
  } finally {
    db.close();
  }
});

Deno.test("the time window and the value arrays: at the edge sent, past it counted and dropped", async () => {
  await using ep = await startMetricsEndpoint(moto);
  const { s, stream, append, db, ring } = sender(ep.url);
  try {
    const now = Date.now();
    const oldOk = Math.ceil((now - MAX_AGE_MS) / MINUTE) * MINUTE + MINUTE;
    const newOk = Math.floor((now + MAX_AHEAD_MS) / MINUTE) * MINUTE - MINUTE;
    const v150 = Array.from({ length: 150 }, (_, i) => i);
    append([
      datum("Window", now - MAX_AGE_MS - MINUTE), // too old
      datum("Window", oldOk),
      datum("Window", newOk),
      datum("Window", now + MAX_AHEAD_MS + MINUTE), // too new
      datum("Arrays", NOW0 - MINUTE, { v: v150, k: v150.map(() => 1), c: 150 }),
      datum("Arrays", NOW0 - 2 * MINUTE, {
        v: [...v150, 150],
        k: [...v150, 150].map(() => 1),
        c: 151,
      }),
    ]);
    await drain(s);
    const sent = puts(ep.requests).flatMap((r) =>
      requestJson(r).MetricData as { MetricName: string; Timestamp: number; Values?: number[] }[]
    );
    assert.deepEqual(sent.map((d) => [d.MetricName, d.Timestamp * 1000]), [
      ["Window", oldOk],
      ["Window", newOk],
      ["Arrays", NOW0 - MINUTE],
    ]);
    assert.equal(sent[2]!.Values!.length, 150);
    const st = stream.status();
    assert.equal(st.refused, 3);
    assert.equal(st.sent, 3);
    assert.equal(st.backlog, 0);
    assert.ok(ring.entries().some((r) => /outside what CloudWatch accepts/.test(r.msg)));
    const arr = await statistics(moto, {
      name: "Arrays",
      dimensions: { Device: "d1" },
      start: NOW0 - 5 * MINUTE,
      end: NOW0,
    });
    assert.deepEqual(arr.map((p) => [p.SampleCount, p.Minimum, p.Maximum]), [[150, 0, 149]]);
  } finally {
    db.close();
  }
});

Deno.test("a datum CloudWatch refuses is dropped alone after halving; the rest arrives", async () => {
  await using ep = await startMetricsEndpoint(moto, {
    intercept: (req) => {
      const body = requestJson(req) as { MetricData?: { MetricName: string }[] };
      if (body.MetricData?.some((d) => d.MetricName === "Poison")) {
        return Response.json(
          {
            __type: "InvalidParameterValue",
            message: "The value for parameter MetricData.member.1 is invalid",
          },
          { status: 400 },
        );
      }
      return undefined;
    },
  });
  const { s, stream, append, db } = sender(ep.url);
  try {
    const ds = Array.from({ length: 40 }, (_, i) => datum("Good", NOW0 - (40 - i) * MINUTE));
    ds.splice(17, 0, datum("Poison", NOW0 - MINUTE));
    append(ds);
    await drain(s);
    const st = stream.status();
    assert.equal(st.refused, 1);
    assert.equal(st.sent, 40);
    const points = await statistics(moto, {
      name: "Good",
      dimensions: { Device: "d1" },
      start: NOW0 - 41 * MINUTE,
      end: NOW0,
    });
    assert.equal(points.length, 40);
    assert.ok(points.every((p) => p.SampleCount === 2), "none twice");
  } finally {
    db.close();
  }
});

Deno.test("the CloudFormation template lets the device put into its namespace and confirm batches", async () => {
  const t = await Deno.readTextFile(new URL("../deploy/cloudformation/tern.yaml", import.meta.url));
  const ns = /\n {2}MetricsNamespace:\n(?: {4}.*\n)*? {4}Default: (\S+)/.exec(t)?.[1];
  assert.equal(ns, configSchema.parse({}).cloud.metrics.namespace);
  assert.match(
    t,
    /Action: cloudwatch:PutMetricData\n\s+Resource: "\*"\n\s+Condition:\n\s+StringEquals:\n\s+cloudwatch:namespace: !Ref MetricsNamespace/,
  );
  assert.match(t, /Action: cloudwatch:GetMetricStatistics/);
});

Deno.test("a full spool drops the oldest periods, counted; the newest are sent", async () => {
  await using ep = await startMetricsEndpoint(moto);
  const db = Database.open({ path: ":memory:", purgeInterval: 0 });
  const ring = new RingSink(200);
  const log = new LogHub({ sinks: [ring] }).logger("cloud.metrics");
  const stream = Spool.of(db, { clock: systemClock, log }).stream("metrics.full", {
    maxRecords: 100,
  });
  const s = new PutSender({
    stream,
    client: metricsClient(ep.url),
    clock: systemClock,
    log,
    namespace: "Tern",
  });
  try {
    const start = NOW0 - 300 * MINUTE;
    for (let i = 0; i < 300; i++) {
      const d = datum("Full", start + i * MINUTE, { s: i });
      stream.append([{ time: d.t, data: JSON.stringify(d) }]);
    }
    const st = stream.status();
    assert.equal(st.backlog, 100);
    assert.equal(st.dropped, 200);
    await drain(s);
    const points = await statistics(moto, {
      name: "Full",
      dimensions: { Device: "d1" },
      start,
      end: NOW0,
    });
    assert.deepEqual(
      points.map((p) => p.Sum),
      Array.from({ length: 100 }, (_, i) => 200 + i),
      "the newest 100",
    );
    await new Promise((r) => setTimeout(r, 0));
    assert.ok(
      ring.entries().some((r) => /is full: dropping the oldest/.test(r.msg)),
      "logged once",
    );
  } finally {
    db.close();
  }
});

Deno.test("an answer that never came: the batch is read back and acked, not sent twice", async () => {
  let puts = 0;
  let stall = true;
  await using ep = await startMetricsEndpoint(moto, {
    intercept: async (req) => {
      if (!req.target?.endsWith(".PutMetricData")) return undefined;
      puts++;
      if (!stall) return undefined;
      stall = false;
      // CloudWatch takes the batch, but the answer is lost (longer than the client's timeout).
      const r = await fetch(moto.url, {
        method: "POST",
        headers: {
          "content-type": "application/x-amz-json-1.0",
          "x-amz-target": req.target,
          authorization: req.headers.get("authorization") ?? "", // moto takes the region from it
        },
        body: JSON.stringify(requestJson(req)),
      });
      await r.body?.cancel();
      await new Promise((res) => setTimeout(res, 1500));
      return new Response("{}", { status: 200 });
    },
  });
  const db = Database.open({ path: ":memory:", purgeInterval: 0 });
  const log = new LogHub({ sinks: [] }).logger("cloud.metrics");
  const stream = Spool.of(db, { clock: systemClock, log }).stream("metrics.lost");
  const http = new HttpClient({ timeoutMs: 300, headersTimeoutMs: 300, retries: 0 });
  const s = new PutSender({
    stream,
    client: metricsClient(ep.url, { http }),
    clock: systemClock,
    log,
    namespace: "Tern",
    confirmDelay: 0,
  });
  try {
    const start = NOW0 - 10 * MINUTE;
    const ds = Array.from({ length: 10 }, (_, i) => datum("Lost", start + i * MINUTE));
    stream.append(ds.map((d) => ({ time: d.t, data: JSON.stringify(d) })));
    assert.equal(await s.step(), "retry", "the request timed out");
    assert.ok(stream.inflight(), "the batch stays marked in flight");
    assert.equal(await s.step(), "sent", "read back: it arrived");
    assert.equal(await s.step(), "idle");
    assert.equal(puts, 1, "not sent again");
    const st = stream.status();
    assert.deepEqual([st.sent, st.backlog, st.refused], [10, 0, 0]);
    const points = await statistics(moto, {
      name: "Lost",
      dimensions: { Device: "d1" },
      start,
      end: NOW0,
    });
    assert.deepEqual(points.map((p) => p.SampleCount), new Array(10).fill(2), "each period once");
  } finally {
    http.close();
    db.close();
  }
});
