/**
 * Wire conformance: the same datums sent by our PutMetricData sender (lib/aws
 * SigV4 + JSON-API caller, JSON 1.0) and by the official
 * `@aws-sdk/client-cloudwatch` to the same SigV4-verifying endpoint in front
 * of moto. Both requests pass the signature check, carry the same target,
 * content type, compression and JSON body (the namespace aside), and read
 * back the same from moto.
 */

import assert from "node:assert/strict";
import { CloudWatchClient, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { systemClock } from "../lib/clock.ts";
import { type Datum, metricDatum, PutSender } from "../lib/cloud/metrics/mod.ts";
import { Spool } from "../lib/cloud/mod.ts";
import { Database } from "../lib/db/mod.ts";
import { nullLogger } from "../lib/log/mod.ts";
import { MOTO_CREDENTIALS, MOTO_REGION, startMoto } from "./helpers/moto.ts";
import {
  metricsClient,
  requestJson,
  startMetricsEndpoint,
  statistics,
} from "./helpers/moto_metrics.ts";

const MINUTE = 60_000;
const T = Math.floor(Date.now() / MINUTE) * MINUTE - 30 * MINUTE;

function datums(n: number): Datum[] {
  const out: Datum[] = [
    {
      n: "Level",
      u: "Percent",
      d: [["Device", "d1"], ["Tank", "north"]],
      t: T,
      r: 60,
      c: 3,
      s: 126.5,
      mn: 40,
      mx: 44.25,
    },
    {
      n: "Fast",
      u: "Milliseconds",
      d: [["Device", "d1"]],
      t: T + 1000,
      r: 1,
      c: 1,
      s: 7,
      mn: 7,
      mx: 7,
    },
    {
      n: "Latency",
      u: "Milliseconds",
      d: [["Device", "d1"], ["RouteClass", "api"]],
      t: T,
      r: 60,
      c: 4,
      s: 130,
      mn: 10,
      mx: 100,
      v: [10, 100],
      k: [3, 1],
    },
  ];
  for (let i = 3; i < n; i++) {
    out.push({
      n: `Many${i}`,
      u: "Count",
      d: [["Device", "d1"]],
      t: T - i * MINUTE,
      r: 60,
      c: 1,
      s: i,
      mn: i,
      mx: i,
    });
  }
  return out;
}

Deno.test("our PutMetricData is the SDK's: same target, content type, compression and body, both verified", async () => {
  await using moto = await startMoto();
  await using ep = await startMetricsEndpoint(moto);
  const sdk = new CloudWatchClient({
    region: MOTO_REGION,
    endpoint: ep.url,
    credentials: MOTO_CREDENTIALS,
  });
  try {
    for (const n of [3, 200]) { // one small request, one past 10,240 bytes
      using db = Database.open({ path: ":memory:", purgeInterval: 0 });
      const stream = Spool.of(db, { clock: systemClock, log: nullLogger }).stream("metrics.sdk");
      const ds = datums(n);
      stream.append(ds.map((d) => ({ time: d.t, data: JSON.stringify(d) })));
      await using client = metricsClient(ep.url);
      const sender = new PutSender({
        stream,
        client,
        clock: systemClock,
        log: nullLogger,
        namespace: `Ours${n}`,
      });
      assert.equal(await sender.step(), "sent");
      await sdk.send(
        new PutMetricDataCommand({
          Namespace: `Sdk${n}`,
          MetricData: ds.map((d) => {
            const m = metricDatum(d) as Record<string, unknown>;
            return { ...m, Timestamp: new Date(d.t) };
          }) as never,
        }),
      );
      const puts = ep.requests.filter((r) =>
        r.target === "GraniteServiceVersion20100801.PutMetricData"
      ).slice(-2);
      assert.equal(puts.length, 2);
      const [ours, theirs] = puts as [typeof puts[0], typeof puts[0]];
      assert.equal(ours.headers.get("content-type"), "application/x-amz-json-1.0");
      assert.equal(ours.headers.get("content-type"), theirs.headers.get("content-type"));
      assert.equal(
        ours.headers.get("content-encoding"),
        theirs.headers.get("content-encoding"),
        `n=${n}`,
      );
      assert.equal(ours.headers.get("content-encoding"), n > 100 ? "gzip" : null);
      assert.equal(ours.url.pathname, theirs.url.pathname);
      assert.deepEqual({ ...requestJson(ours), Namespace: "x" }, {
        ...requestJson(theirs),
        Namespace: "x",
      });
      for (const ns of [`Ours${n}`, `Sdk${n}`]) {
        const level = await statistics(moto, {
          namespace: ns,
          name: "Level",
          dimensions: { Device: "d1", Tank: "north" },
          start: T,
          end: T + MINUTE,
        });
        assert.deepEqual(level.map((p) => [p.SampleCount, p.Sum, p.Minimum, p.Maximum, p.Unit]), [[
          3,
          126.5,
          40,
          44.25,
          "Percent",
        ]]);
        const lat = await statistics(moto, {
          namespace: ns,
          name: "Latency",
          dimensions: { Device: "d1", RouteClass: "api" },
          start: T,
          end: T + MINUTE,
        });
        assert.deepEqual(lat.map((p) => [p.SampleCount, p.Sum]), [[4, 130]]);
      }
    }
    assert.equal(ep.rejected, 0, "every signature verified");
  } finally {
    sdk.destroy();
  }
});
