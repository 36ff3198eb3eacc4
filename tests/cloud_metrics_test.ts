/**
 * CloudWatch metrics end to end: the real Agent with the "cloud.metrics"
 * service (loaded lazily from lib/services.ts), on a fake clock, samples this
 * machine's /proc and /sys and the agent's registry and aggregates the
 * application's metrics; closed periods go through the spool and the
 * SigV4-verifying endpoint to moto. Asserted in moto (GetMetricStatistics,
 * GetMetricData, ListMetrics) and on the request bytes; EMF records in moto's
 * CloudWatch Logs against the EMF specification's required fields.
 */

import assert from "node:assert/strict";
import { Agent } from "../lib/agent.ts";
import { FakeClock } from "../lib/clock.ts";
import type { CloudMetricsService } from "../lib/cloud/metrics/mod.ts";
import type { Config } from "../lib/config/mod.ts";
import { LogHub, RingSink } from "../lib/log/mod.ts";
import { LIBRARY_SERVICES } from "../lib/services.ts";
import { getLogEvents, startLogsEndpoint, startMoto } from "./helpers/moto.ts";
import {
  cloudMetricsConfig,
  cloudwatch,
  requestJson,
  startMetricsEndpoint,
  statistics,
} from "./helpers/moto_metrics.ts";
import { until } from "./helpers/wait.ts";
import { buildApp } from "../routes/web_service.ts";
import { configSchema } from "../lib/config/mod.ts";
import type { DatabaseService } from "../lib/db/mod.ts";
import { nullLogger } from "../lib/log/mod.ts";
import { formatStreams } from "../lib/cli/cloud.ts";
import { spoolStatus } from "../lib/cloud/mod.ts";

/** A minute boundary ten minutes ago: every period is in the past, within CloudWatch's window. */
const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000;

async function startAgent(dir: string, config: Config, clock: FakeClock) {
  const ring = new RingSink(500);
  const hub = new LogHub({ sinks: [ring] });
  const agent = await Agent.start({
    loaded: { config, configDir: dir, stateDir: dir, files: [], secrets: [] },
    factories: LIBRARY_SERVICES,
    hub,
    ring,
    clock,
  });
  return { agent, ring };
}

/** Advance the fake clock in steps of `step` ms, letting each tick's work run. */
async function advance(clock: FakeClock, ms: number, step = 1000) {
  for (let t = 0; t < ms; t += step) {
    await clock.advance(step);
    await new Promise((r) => setTimeout(r, 1));
  }
}

Deno.test("PutMetricData: OS, agent and application metrics arrive once per period with exact statistics", async () => {
  await using moto = await startMoto();
  const clock = new FakeClock(T0 - 500);
  await using ep = await startMetricsEndpoint(moto, { now: () => clock.now() });
  const dir = await Deno.makeTempDir({ prefix: "tern_cloud_metrics_" });
  const config = cloudMetricsConfig({
    via: "putMetricData",
    endpoint: ep.url,
    interval: 10_000,
    flushInterval: 100,
    backoff: { min: 100, max: 1000 },
    // The /proc and /sys file groups: readable here (the test runs with --allow-all).
    os: { network: true, diskIo: true, temperature: true },
  });
  const { agent } = await startAgent(dir, config, clock);
  try {
    const metrics = agent.get<CloudMetricsService>("cloud.metrics");
    await advance(clock, 500, 500); // T0: the first sample (the counters' baseline)
    for (const v of [40, 42, 44]) {
      metrics.put("TankLevel", v, { unit: "Percent", dimensions: { Tank: "north" } });
    }
    metrics.count("PumpStarts");
    metrics.count("PumpStarts", 2);
    // Bad input: a clear error, nothing recorded.
    assert.throws(() => metrics.put("TankLevel", NaN), /finite number/);
    assert.throws(() => metrics.put("TankLevel", 1, { unit: "Bytes" }), /has unit/);
    await advance(clock, 60_000); // samples at +10 … +50 s, the period closes at +60 s
    await until(() => metrics.streams()[0]!.sent > 0 && metrics.streams()[0]!.backlog === 0, {
      ms: 15_000,
      what: "the first period sent",
      step: () => advance(clock, 200, 200),
    });
    const q = { start: T0, end: T0 + 60_000 };
    const tank = await statistics(moto, {
      ...q,
      name: "TankLevel",
      dimensions: { Device: "d1", Tank: "north" },
    });
    assert.deepEqual(
      tank.map((p) => [p.Timestamp * 1000, p.SampleCount, p.Sum, p.Minimum, p.Maximum, p.Unit]),
      [
        [T0, 3, 126, 40, 44, "Percent"],
      ],
    );
    const starts = await statistics(moto, {
      ...q,
      name: "PumpStarts",
      dimensions: { Device: "d1" },
    });
    assert.deepEqual(starts.map((p) => [p.SampleCount, p.Sum]), [[2, 3]]);
    // This machine's OS, sampled every 10 s.
    const cpu = await statistics(moto, {
      ...q,
      name: "CpuUtilization",
      dimensions: { Device: "d1" },
    });
    assert.equal(cpu.length, 1);
    // Samples at +0 … +50 s (the start's reading is the baseline). On the fake clock only
    // milliseconds pass between two of them: a sample in which the kernel's CPU counters (10 ms
    // ticks) did not move has no utilisation and is left out, so up to 6.
    assert.ok(
      cpu[0]!.SampleCount >= 1 && cpu[0]!.SampleCount <= 6,
      `CPU samples: ${cpu[0]!.SampleCount}`,
    );
    assert.ok(cpu[0]!.Minimum >= 0 && cpu[0]!.Maximum <= 100, JSON.stringify(cpu));
    const mem = await statistics(moto, {
      ...q,
      name: "MemoryUtilization",
      dimensions: { Device: "d1" },
    });
    assert.equal(mem[0]!.SampleCount, 6);
    assert.ok(mem[0]!.Maximum > 0 && mem[0]!.Maximum < 100);
    const listed = await cloudwatch<
      { Metrics: { MetricName: string; Dimensions: { Name: string; Value: string }[] }[] }
    >(
      moto,
      "ListMetrics",
      { Namespace: "Tern" },
    );
    const names = new Set(listed.Metrics.map((m) => m.MetricName));
    for (
      const n of [
        "CpuUtilization",
        "LoadAverage",
        "MemoryUtilization",
        "MemoryAvailable",
        "DiskUtilization",
        "DiskFree",
        "NetworkIn",
        "Uptime",
        "AgentMemoryRss",
        "AgentEventLoopLag",
        "ServiceRestarts",
        "SpoolBacklog",
        "TankLevel",
        "PumpStarts",
      ]
    ) assert.ok(names.has(n), `${n} in CloudWatch (got ${[...names].join(", ")})`);
    assert.ok(
      listed.Metrics.every((m) =>
        m.Dimensions.some((d) => d.Name === "Device" && d.Value === "d1")
      ),
    );
    // GetMetricData reads the same period.
    const data = await cloudwatch<{ MetricDataResults: { Id: string; Values: number[] }[] }>(
      moto,
      "GetMetricData",
      {
        StartTime: T0 / 1000,
        EndTime: (T0 + 60_000) / 1000,
        MetricDataQueries: [{
          Id: "tank",
          MetricStat: {
            Metric: {
              Namespace: "Tern",
              MetricName: "TankLevel",
              Dimensions: [{ Name: "Device", Value: "d1" }, { Name: "Tank", Value: "north" }],
            },
            Period: 60,
            Stat: "Maximum",
          },
        }],
      },
    );
    assert.deepEqual(data.MetricDataResults[0]!.Values, [44]);
    // The requests: signed, JSON 1.0, the SDK's target, ≤ 1000 datums, no NaN.
    assert.equal(ep.rejected, 0);
    const puts = ep.requests.filter((r) =>
      r.target === "GraniteServiceVersion20100801.PutMetricData"
    );
    assert.ok(puts.length >= 1);
    for (const r of puts) {
      assert.equal(r.headers.get("content-type"), "application/x-amz-json-1.0");
      const body = requestJson(r) as { Namespace: string; MetricData: unknown[] };
      assert.equal(body.Namespace, "Tern");
      assert.ok(body.MetricData.length >= 1 && body.MetricData.length <= 1000);
      assert.doesNotMatch(new TextDecoder().decode(r.body), /NaN|Infinity/);
    }
    // The next period is its own datapoint; the first is not sent again.
    metrics.put("TankLevel", 50, { unit: "Percent", dimensions: { Tank: "north" } });
    await advance(clock, 60_000);
    await until(
      async () =>
        (await statistics(moto, {
          start: T0,
          end: T0 + 120_000,
          name: "TankLevel",
          dimensions: { Device: "d1", Tank: "north" },
        })).length === 2,
      {
        ms: 15_000,
        what: "the second period",
        step: () => advance(clock, 200, 200),
      },
    );
    const both = await statistics(moto, {
      start: T0,
      end: T0 + 120_000,
      name: "TankLevel",
      dimensions: { Device: "d1", Tank: "north" },
    });
    assert.deepEqual(both.map((p) => [p.Timestamp * 1000, p.SampleCount, p.Sum]), [[T0, 3, 126], [
      T0 + 60_000,
      1,
      50,
    ]]);
    // /metrics (the registry) carries the same set.
    const text = agent.metrics.render();
    assert.match(text, /^tern_app_TankLevel\{Tank="north"\} 50$/m);
    assert.match(text, /^tern_os_memory_used_percent \d/m);
    assert.match(text, /^tern_spool_backlog_records\{stream="metrics.put"\} \d+$/m);
    // tern cloud status reads the same stream from the database.
    const db = agent.get<DatabaseService>("database").db;
    const status = formatStreams(false, spoolStatus(db), config.cloud.metrics);
    assert.match(status, /^cloud\.metrics: on \(putMetricData\)$/m);
    assert.match(status, /^metrics\.put +0 waiting .*sent \d+, dropped 0, refused 0$/m);
  } finally {
    await agent.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("EMF: periods go as embedded-metric-format records through CloudWatch Logs", async () => {
  await using moto = await startMoto();
  const clock = new FakeClock(T0 - 500);
  await using logs = await startLogsEndpoint(moto);
  const dir = await Deno.makeTempDir({ prefix: "tern_cloud_metrics_" });
  const config = cloudMetricsConfig({
    interval: 10_000,
    flushInterval: 100,
    confirmDelay: 0,
    backoff: { min: 100, max: 1000 },
    os: { perCore: true, network: true },
    exclude: ["NetworkIn", "NetworkOut"],
  }, { cloud: { logs: { endpoint: logs.url, agent: { enabled: false } } } });
  const { agent } = await startAgent(dir, config, clock);
  try {
    const metrics = agent.get<CloudMetricsService>("cloud.metrics");
    await advance(clock, 500, 500);
    for (const v of [40, 42, 44]) {
      metrics.put("TankLevel", v, { unit: "Percent", dimensions: { Tank: "north" } });
    }
    for (let i = 0; i < 250; i++) metrics.put("Vibration", i % 50, { unit: "None" });
    await advance(clock, 60_000);
    await until(
      async () => (await getLogEvents(moto, "/tern/d1", "d1/metrics").catch(() => [])).length > 0,
      { ms: 15_000, what: "EMF records in moto", step: () => advance(clock, 200, 200) },
    );
    await until(() => metrics.streams()[0]!.backlog === 0, {
      what: "an empty spool",
      step: () => advance(clock, 200, 200),
    });
    const events = await getLogEvents(moto, "/tern/d1", "d1/metrics");
    const docs = events.map((e) => ({ ts: e.timestamp, doc: JSON.parse(e.message) }));
    for (const { ts, doc } of docs) {
      // The EMF specification's required members.
      const aws = doc._aws;
      assert.equal(typeof aws, "object");
      assert.equal(aws.Timestamp, ts, "the event time is the EMF Timestamp");
      assert.ok(
        [T0 - 60_000, T0].includes(aws.Timestamp),
        "a period start (the start's sample: the period before)",
      );
      assert.ok(Array.isArray(aws.CloudWatchMetrics) && aws.CloudWatchMetrics.length >= 1);
      for (const dir of aws.CloudWatchMetrics) {
        assert.equal(dir.Namespace, "Tern");
        assert.ok(Array.isArray(dir.Dimensions));
        for (const set of dir.Dimensions) {
          assert.ok(set.length <= 30);
          for (const name of set) {
            assert.equal(typeof doc[name], "string", `dimension ${name} is a member`);
          }
        }
        assert.ok(dir.Metrics.length >= 1 && dir.Metrics.length <= 100);
        for (const m of dir.Metrics) {
          assert.equal(typeof m.Name, "string");
          assert.ok([1, 60].includes(m.StorageResolution));
          const v = doc[m.Name];
          assert.ok(
            typeof v === "number" ||
              (Array.isArray(v) && v.length <= 100 &&
                v.every((x: unknown) => typeof x === "number")),
            `${m.Name} is a number or ≤ 100 numbers`,
          );
        }
      }
    }
    const tank = docs.find((d) => d.doc.Tank === "north")!.doc;
    assert.deepEqual(tank._aws.CloudWatchMetrics[0].Dimensions, [["Device", "Tank"]]);
    assert.deepEqual(tank.TankLevel, [40, 42, 44]);
    assert.deepEqual(tank.Statistics.TankLevel, {
      SampleCount: 3,
      Sum: 126,
      Minimum: 40,
      Maximum: 44,
    });
    const plain = docs.find((d) => d.doc.Vibration !== undefined)!.doc;
    assert.equal(plain.Vibration.length, 100, "250 samples: 100 values");
    assert.equal(Math.min(...plain.Vibration), 0);
    assert.equal(Math.max(...plain.Vibration), 49);
    const mean = plain.Vibration.reduce((a: number, b: number) => a + b, 0) / 100;
    assert.ok(Math.abs(mean - 24.5) < 1e-9, `the mean is kept (${mean})`);
    assert.deepEqual(plain.Statistics.Vibration, {
      SampleCount: 250,
      Sum: 6125,
      Minimum: 0,
      Maximum: 49,
    });
    assert.ok(docs.some((d) => d.doc.CpuUtilization !== undefined), "OS series in EMF");
    assert.ok(
      !docs.some((d) => d.doc.NetworkIn !== undefined || d.doc.NetworkOut !== undefined),
      "excluded",
    );
    assert.ok(docs.some((d) => d.doc.NetworkErrors !== undefined), "only what was excluded");
    assert.ok(
      docs.some((d) => d.doc.Core === "0" && d.doc.CpuUtilization !== undefined),
      "per core",
    );
    assert.equal(logs.rejected, 0);
  } finally {
    await agent.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("POST /api/metrics records other processes' samples; a bad sample is a 400 and records nothing", async () => {
  await using moto = await startMoto();
  const clock = new FakeClock(T0 - 500);
  await using ep = await startMetricsEndpoint(moto, { now: () => clock.now() });
  const dir = await Deno.makeTempDir({ prefix: "tern_cloud_metrics_" });
  const config = cloudMetricsConfig({
    via: "putMetricData",
    endpoint: ep.url,
    flushInterval: 100,
    os: { enabled: false },
    agent: { enabled: false },
  });
  const { agent } = await startAgent(dir, config, clock);
  try {
    const { app, deps } = buildApp(
      configSchema.parse({ web: { auth: { iterations: 10_000 }, static: { enabled: false } } }),
      {
        log: nullLogger,
        clock,
        db: agent.get<DatabaseService>("database").db,
        service: (n) => {
          try {
            return agent.get(n);
          } catch {
            return undefined;
          }
        },
        status: { services: () => agent.states() },
      },
    );
    const setup = await app.request(
      new Request("http://dev.local/api/auth/setup", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          token: deps.setup.token,
          username: "admin",
          password: "pw-pw-pw-pw",
        }),
      }),
    );
    assert.equal(setup.status, 201);
    const cookie = setup.headers.get("set-cookie")!.split(";")[0]!;
    const { xsrf } = await setup.json();
    const post = (
      body: unknown,
      headers: Record<string, string> = { cookie, "x-xsrf-token": xsrf },
    ) =>
      app.request(
        new Request("http://dev.local/api/metrics", {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify(body),
        }),
      );
    const anon = await post({ metrics: [{ name: "Flow", value: 1 }] }, {});
    assert.equal(anon.status, 401);
    await anon.body?.cancel();
    await advance(clock, 500, 500);
    const ok = await post({
      metrics: [
        { name: "Flow", value: 2.5, unit: "Count/Second", dimensions: { Pipe: "a" } },
        { name: "Flow", value: 3.5, unit: "Count/Second", dimensions: { Pipe: "a" } },
        { name: "Restarts", value: 2, type: "counter", time: new Date(T0 + 1000).toISOString() },
      ],
    });
    assert.equal(ok.status, 202);
    assert.deepEqual(await ok.json(), { recorded: 3 });
    for (
      const [body, path, msg] of [
        [
          {
            metrics: [{ name: "Flow", value: 9, unit: "Count/Second", dimensions: { Pipe: "a" } }, {
              name: "Flow",
              value: "x",
            }],
          },
          "metrics.1.value",
          /a number/,
        ],
        [
          {
            metrics: [{ name: "Flow", value: 9, unit: "Count/Second", dimensions: { Pipe: "a" } }, {
              name: "Flow",
              value: 1,
              unit: "Bytes",
              dimensions: { Pipe: "a" },
            }],
          },
          "metrics.1",
          /has unit "Count\/Second"/,
        ],
        [
          {
            metrics: [{ name: "Flow", value: 9, unit: "Count/Second", dimensions: { Pipe: "a" } }, {
              name: "Restarts",
              value: 1,
            }],
          },
          "metrics.1",
          /is a counter/,
        ],
        [
          { metrics: [{ name: "Flow", value: 1e200 }] },
          "metrics.0",
          /outside what CloudWatch stores/,
        ],
        [
          { metrics: [{ name: "Flow", value: 1, colour: "red" }] },
          "metrics.0.colour",
          /Unknown key/,
        ],
        [{ metrics: [] }, "metrics", /1 to 1000/],
        [
          { metrics: [{ name: "Flow", value: 1, time: "yesterday" }] },
          "metrics.0.time",
          /ISO 8601/,
        ],
      ] as const
    ) {
      const r = await post(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      const e = (await r.json()).error;
      assert.equal(e.fields[0].path, path);
      assert.match(e.message, msg);
    }
    await advance(clock, 60_000);
    const metrics = agent.get<CloudMetricsService>("cloud.metrics");
    await until(() => metrics.streams()[0]!.sent >= 2 && metrics.streams()[0]!.backlog === 0, {
      ms: 15_000,
      what: "the REST samples sent",
      step: () => advance(clock, 200, 200),
    });
    const flow = await statistics(moto, {
      name: "Flow",
      dimensions: { Device: "d1", Pipe: "a" },
      start: T0,
      end: T0 + 60_000,
    });
    assert.deepEqual(
      flow.map((p) => [p.SampleCount, p.Sum, p.Unit]),
      [[2, 6, "Count/Second"]],
      "nothing of the refused batches",
    );
    const restarts = await statistics(moto, {
      name: "Restarts",
      dimensions: { Device: "d1" },
      start: T0,
      end: T0 + 60_000,
    });
    assert.deepEqual(restarts.map((p) => [p.SampleCount, p.Sum]), [[1, 2]]);
    assert.equal(ep.rejected, 0);
  } finally {
    await agent.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cloud.metrics without credentials fails at start with a clear message", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tern_cloud_metrics_" });
  try {
    const config = cloudMetricsConfig({ via: "putMetricData", endpoint: "http://127.0.0.1:9" });
    const bare = { ...config, aws: { ...config.aws, credentials: undefined } } as unknown as Config;
    await assert.rejects(
      Agent.start({
        loaded: { config: bare, configDir: dir, stateDir: dir, files: [], secrets: [] },
        factories: LIBRARY_SERVICES,
        hub: new LogHub({ sinks: [] }),
      }),
      /cloud\.metrics needs AWS credentials/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
