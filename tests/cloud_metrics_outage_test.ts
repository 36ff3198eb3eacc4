/**
 * An outage of 6 hours on a fake clock: CloudWatch answers 503 throughout;
 * the agent keeps aggregating, closed periods wait in the spool, the sender
 * backs off (no storm), and when CloudWatch is back every period goes out in
 * order, once: asserted in moto (GetMetricStatistics) and on the requests.
 */

import assert from "node:assert/strict";
import { Agent } from "../lib/agent.ts";
import { FakeClock } from "../lib/clock.ts";
import type { CloudMetricsService } from "../lib/cloud/metrics/mod.ts";
import { LogHub, RingSink } from "../lib/log/mod.ts";
import { LIBRARY_SERVICES } from "../lib/services.ts";
import { startMoto } from "./helpers/moto.ts";
import {
  cloudMetricsConfig,
  requestJson,
  startMetricsEndpoint,
  statistics,
} from "./helpers/moto_metrics.ts";
import { until } from "./helpers/wait.ts";
import type { VerifiedRequest } from "./helpers/aws_sigv4_server.ts";

const MINUTE = 60_000;
const HOURS = Number(Deno.env.get("OUTAGE_HOURS") ?? 6);
/** A minute boundary 7 hours ago: the outage and the recovery lie in the past. */
const T0 = Math.floor(Date.now() / MINUTE) * MINUTE - (HOURS + 1) * 3600_000;

Deno.test("a 6-hour outage (fake clock), then recovery: every period arrives once, in order", async () => {
  await using moto = await startMoto();
  const clock = new FakeClock(T0);
  let down = true;
  let refusedAttempts = 0;
  const accepted: VerifiedRequest[] = [];
  await using ep = await startMetricsEndpoint(moto, {
    now: () => clock.now(),
    intercept: (req) => {
      if (!down) {
        accepted.push(req);
        return undefined;
      }
      refusedAttempts++;
      return Response.json({ __type: "ServiceUnavailable", message: "Service unavailable" }, {
        status: 503,
      });
    },
  });
  const dir = await Deno.makeTempDir({ prefix: "tern_cloud_metrics_outage_" });
  const config = cloudMetricsConfig({
    via: "putMetricData",
    endpoint: ep.url,
    interval: 10_000,
    os: { enabled: false },
    agent: { enabled: false },
  });
  const ring = new RingSink(2000);
  const agent = await Agent.start({
    loaded: { config, configDir: dir, stateDir: dir, files: [], secrets: [] },
    factories: LIBRARY_SERVICES,
    hub: new LogHub({ sinks: [ring] }),
    ring,
    clock,
  });
  try {
    const metrics = agent.get<CloudMetricsService>("cloud.metrics");
    const periods = HOURS * 60;
    // Six puts per period (one every 10 s) and the period's number once.
    for (let p = 0; p < periods; p++) {
      for (let i = 0; i < 6; i++) {
        metrics.put("Outage", i);
        if (i === 0) metrics.put("Period", p);
        await clock.advance(10_000);
      }
      if (p % 30 === 0) await new Promise((r) => setTimeout(r, 1)); // let the sender's requests run
    }
    const during = metrics.streams()[0]!;
    assert.equal(during.sent, 0, "nothing accepted while CloudWatch is down");
    assert.equal(during.backlog, periods * 2, "every closed period waits in the spool");
    assert.equal(during.dropped, 0);
    assert.match(during.lastError ?? "", /ServiceUnavailable/);
    assert.ok(
      refusedAttempts >= 10 && refusedAttempts <= 400,
      `backed off: ${refusedAttempts} attempts in 6 h`,
    );
    down = false;
    await until(() => metrics.streams()[0]!.backlog === 0, {
      ms: 60_000,
      what: () => `the backlog sent (${metrics.streams()[0]!.backlog} left)`,
      step: async () => {
        await clock.advance(5000);
        await new Promise((r) => setTimeout(r, 2));
      },
    });
    const st = metrics.streams()[0]!;
    assert.equal(st.sent, periods * 2);
    assert.equal(st.refused, 0);
    // In order: the timestamps of all accepted requests ascend per metric.
    const sent = accepted
      .filter((r) => r.target?.endsWith(".PutMetricData"))
      .flatMap((r) => requestJson(r).MetricData as { MetricName: string; Timestamp: number }[]);
    const periodTimes = sent.filter((d) => d.MetricName === "Period").map((d) => d.Timestamp);
    assert.deepEqual(periodTimes, [...periodTimes].sort((a, b) => a - b));
    // In moto: each period once, with its own values.
    const q = { dimensions: { Device: "d1" }, start: T0, end: T0 + periods * MINUTE };
    const outage = await statistics(moto, { ...q, name: "Outage" });
    assert.equal(outage.length, periods);
    for (const p of outage) {
      assert.deepEqual(
        [p.SampleCount, p.Sum, p.Minimum, p.Maximum],
        [6, 15, 0, 5],
        JSON.stringify(p),
      );
    }
    const numbered = await statistics(moto, { ...q, name: "Period" });
    assert.deepEqual(
      numbered.map((p) => [p.Timestamp * 1000, p.SampleCount, p.Sum]),
      Array.from({ length: periods }, (_, p) => [T0 + p * MINUTE, 1, p]),
    );
    assert.equal(ep.rejected, 0);
  } finally {
    await agent.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
