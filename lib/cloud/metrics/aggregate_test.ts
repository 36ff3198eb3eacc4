import assert from "node:assert/strict";
import { FakeClock } from "../../clock.ts";
import type { MetricFamily } from "../../metrics/mod.ts";
import { Aggregator } from "./aggregate.ts";
import { AppMetrics } from "./app.ts";

const BASE: [string, string][] = [["Device", "d1"]];

Deno.test("10,000 samples in one period give the exact SampleCount, Sum, Minimum and Maximum", () => {
  const clock = new FakeClock(1_767_225_600_000); // on a minute boundary
  const agg = new Aggregator({ base: BASE });
  const app = new AppMetrics({ aggregator: agg, now: () => clock.now() });
  let sum = 0;
  for (let i = 0; i < 10_000; i++) {
    const v = ((i * 7919) % 10_007) / 4; // a spread of exact quarters
    sum += v;
    app.put("Level", v, { unit: "Percent" });
  }
  assert.deepEqual(agg.due(clock.now() + 59_999), [], "the period is still open");
  const [d, ...rest] = agg.due(clock.now() + 60_000);
  assert.equal(rest.length, 0);
  assert.equal(d!.n, "Level");
  assert.equal(d!.u, "Percent");
  assert.deepEqual(d!.d, BASE);
  assert.equal(d!.t, clock.now());
  assert.equal(d!.r, 60);
  assert.equal(d!.c, 10_000);
  assert.equal(d!.s, sum);
  assert.equal(d!.mn, 0);
  assert.equal(d!.mx, 10_006 / 4);
  assert.equal(d!.x, undefined, "past 100 samples the samples themselves are not kept");
  assert.equal(agg.size, 0);
});

Deno.test("samples fall into the period of their own time; high-resolution names per second", () => {
  const t0 = 1_767_225_600_000;
  const agg = new Aggregator({ base: BASE, highResolution: ["Fast"], highResolutionPeriod: 1000 });
  agg.add("Slow", "Count", [], 1, t0 + 10);
  agg.add("Slow", "Count", [], 2, t0 + 59_999);
  agg.add("Slow", "Count", [], 4, t0 + 60_000);
  agg.add("Fast", "None", [], 5, t0 + 999);
  agg.add("Fast", "None", [], 6, t0 + 1000);
  const first = agg.due(t0 + 1000);
  assert.deepEqual(first.map((d) => [d.n, d.t, d.r, d.c, d.s]), [["Fast", t0, 1, 1, 5]]);
  const next = agg.due(t0 + 60_000);
  assert.deepEqual(next.map((d) => [d.n, d.t, d.r, d.c, d.s]), [
    ["Slow", t0, 60, 2, 3],
    ["Fast", t0 + 1000, 1, 1, 6],
  ]);
  assert.deepEqual(agg.drain().map((d) => [d.n, d.t, d.s, d.x]), [["Slow", t0 + 60_000, 4, [4]]]);
});

Deno.test("registry sampling: gauges as they are, counters by growth, equal dimensions summed", () => {
  const t0 = 1_767_225_600_000;
  const agg = new Aggregator({ base: BASE });
  let requests = [3, 5];
  let level = 10;
  const families = (): MetricFamily[] => [{
    name: "x_requests_total",
    help: "",
    type: "counter",
    cloud: { name: "Requests", unit: "Count", dimensions: (l) => ({ Class: l.route![1]! }) },
    series: [
      { labels: { route: "/a1" }, value: requests[0]! },
      { labels: { route: "/a2" }, value: requests[1]! },
    ],
  }, {
    name: "x_level",
    help: "",
    type: "gauge",
    cloud: { name: "Level", unit: "None", scale: 1000 },
    series: [{ value: level }],
  }, { name: "x_local", help: "", type: "gauge", series: [{ value: 1 }] }];
  agg.sample(families(), t0); // the counters' baseline
  requests = [4, 9];
  level = 20;
  agg.sample(families(), t0 + 10_000);
  requests = [1, 9]; // a reset: counts from zero
  agg.sample(families(), t0 + 20_000);
  const out = agg.due(t0 + 60_000);
  const req = out.find((d) => d.n === "Requests")!;
  assert.deepEqual(req.d, [["Device", "d1"], ["Class", "a"]]);
  assert.equal(req.c, 2);
  assert.equal(req.s, (1 + 4) + (1 + 0));
  assert.equal(req.kind, "counter");
  const lvl = out.find((d) => d.n === "Level")!;
  assert.deepEqual([lvl.c, lvl.s, lvl.mn, lvl.mx], [3, 50_000, 10_000, 20_000]);
  assert.equal(out.length, 2, "a family without a cloud part stays local");
});

Deno.test("histograms send their buckets' growth as values and counts", () => {
  const t0 = 1_767_225_600_000;
  const agg = new Aggregator({ base: BASE });
  const bounds = [0.01, 0.1, 1];
  const fam = (counts: number[], sum: number): MetricFamily[] => [{
    name: "x_seconds",
    help: "",
    type: "histogram",
    cloud: { name: "Latency", unit: "Milliseconds", scale: 1000 },
    series: [{ bounds, counts, sum, count: counts.reduce((a, b) => a + b, 0) }],
  }];
  agg.sample(fam([1, 0, 0, 0], 0.005), t0);
  agg.sample(fam([3, 1, 0, 2], 5.075), t0 + 10_000);
  const [d] = agg.due(t0 + 60_000);
  assert.deepEqual(d!.v, [10, 100, 1000]);
  assert.deepEqual(d!.k, [2, 1, 2]);
  assert.equal(d!.c, 5);
  assert.equal(Math.round(d!.s), 5070);
});

Deno.test("web requests go to CloudWatch by route class and status class, latency as values/counts", async () => {
  const { WebMetrics } = await import("../../web/metrics.ts");
  const t0 = 1_767_225_600_000;
  const web = new WebMetrics();
  const agg = new Aggregator({ base: BASE });
  agg.sample(web.families(), t0); // baseline (no route yet)
  web.record("GET", "/api/data/:model", 200, 4);
  web.record("POST", "/api/data/:model", 201, 30);
  web.record("GET", "/api/health", 200, 0.5);
  web.record("GET", "/api/data/:model", 404, 2);
  agg.sample(web.families(), t0 + 10_000); // series new since the baseline count from zero
  web.record("GET", "/api/data/:model", 200, 4);
  web.record("GET", "/api/data/:model", 500, 700);
  web.record("GET", "/metrics", 200, 1);
  agg.sample(web.families(), t0 + 20_000);
  const out = agg.due(t0 + 60_000);
  const sum = (cls: string, status: string) =>
    out.filter((d) => d.n === "HttpRequests" && d.d[1]![1] === cls && d.d[2]![1] === status)
      .reduce((a, d) => a + d.s, 0);
  assert.equal(sum("api", "2xx"), 4);
  assert.equal(sum("api", "4xx"), 1);
  assert.equal(sum("api", "5xx"), 1, "a route's first 500 is counted");
  assert.equal(sum("metrics", "2xx"), 1);
  const lat = out.find((d) => d.n === "HttpLatency" && d.d[1]?.[1] === "api")!;
  assert.deepEqual([lat.v, lat.k, lat.c], [[1, 5, 50, 1000], [1, 3, 1, 1], 6]);
  assert.equal(lat.u, "Milliseconds");
});
