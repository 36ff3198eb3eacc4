import assert from "node:assert/strict";
import { FakeClock } from "../../clock.ts";
import { renderPrometheus } from "../../metrics/mod.ts";
import { Aggregator } from "./aggregate.ts";
import { AppMetrics } from "./app.ts";
import { MAX_AGE_MS, MAX_AHEAD_MS } from "./limits.ts";

function setup(maxSeries = 1000) {
  const clock = new FakeClock(1_767_225_600_000);
  const agg = new Aggregator({ base: [["Device", "d1"]] });
  const app = new AppMetrics({ aggregator: agg, now: () => clock.now(), maxSeries });
  return { clock, agg, app };
}

Deno.test("every application limit at its edge is accepted and past it refused with nothing recorded", () => {
  const { clock, agg, app } = setup();
  // Names: 1 and 255 characters.
  app.put("a", 1);
  app.put("n".repeat(255), 1);
  assert.throws(() => app.put("", 1), TypeError);
  assert.throws(() => app.put("n".repeat(256), 1), /1 to 255 characters/);
  assert.throws(() => app.put(":x", 1), /not valid/);
  assert.throws(() => app.put("tab\there", 1), /not valid/);
  // Values: finite and within CloudWatch's magnitude range.
  app.put("v", 0);
  app.put("v", 1.174271e108);
  app.put("v", -8.515920e-109);
  for (const bad of [NaN, Infinity, -Infinity, 1.2e108, 1e-109]) {
    assert.throws(() => app.put("v", bad), RangeError, String(bad));
  }
  assert.throws(() => app.put("v", "1" as unknown as number), RangeError);
  // Dimensions: 29 of the application's own (Device makes 30).
  const dims = (n: number) =>
    Object.fromEntries(Array.from({ length: n }, (_, i) => [`D${i}`, "x"]));
  app.put("dims", 1, { dimensions: dims(29) });
  assert.throws(() => app.put("dims", 1, { dimensions: dims(30) }), /at most 29 fit/);
  app.put("dv", 1, { dimensions: { K: "v".repeat(1024), ["k".repeat(255)]: "x" } });
  assert.throws(() => app.put("dv", 1, { dimensions: { K: "v".repeat(1025) } }), /1 to 1024/);
  assert.throws(() => app.put("dv", 1, { dimensions: { K: "" } }), /1 to 1024/);
  assert.throws(
    () => app.put("dv", 1, { dimensions: { ["k".repeat(256)]: "x" } }),
    /bad dimension/,
  );
  assert.throws(() => app.put("dv", 1, { dimensions: { Device: "other" } }), /set by the agent/);
  assert.throws(() => app.put("dv", 1, { dimensions: { K: 5 as unknown as string } }), TypeError);
  // Units: CloudWatch's, fixed per name.
  app.put("u", 1, { unit: "Bytes/Second" });
  assert.throws(() => app.put("u2", 1, { unit: "Celsius" as "None" }), /expected one of/);
  assert.throws(() => app.put("u", 1, { unit: "Bytes" }), /has unit "Bytes\/Second"/);
  // Kinds: a name is a gauge or a counter.
  assert.throws(() => app.count("u"), /is a gauge/);
  assert.throws(() => app.count("c", -1), /cannot go down/);
  // Time: 14 days back, 2 hours ahead.
  const now = clock.now();
  app.put("t", 1, { time: now - MAX_AGE_MS });
  app.put("t", 1, { time: now + MAX_AHEAD_MS });
  assert.throws(() => app.put("t", 1, { time: now - MAX_AGE_MS - 1 }), /outside/);
  assert.throws(() => app.put("t", 1, { time: now + MAX_AHEAD_MS + 1 }), /outside/);
  assert.throws(() => app.put("t", 1, { time: NaN }), /outside/);
  // Nothing refused was recorded.
  const datums = agg.drain();
  const count = (n: string) => datums.filter((d) => d.n === n).reduce((a, d) => a + d.c, 0);
  assert.equal(count("v"), 3);
  assert.equal(count("dims"), 1);
  assert.equal(count("dv"), 1);
  assert.equal(count("u"), 1);
  assert.equal(count("c"), 0);
  assert.equal(count("t"), 2);
  assert.ok(!datums.some((d) => d.n === "u2" || d.n === ""));
});

Deno.test("series past maxSeries are refused; seen series still record", () => {
  const { agg, app } = setup(2);
  app.put("a", 1);
  app.put("b", 1, { dimensions: { X: "1" } });
  assert.throws(() => app.put("c", 1), /Too many application metric series \(2\)/);
  app.put("b", 2, { dimensions: { X: "1" } });
  assert.equal(app.size, 2);
  assert.deepEqual(agg.drain().map((d) => [d.n, d.c]), [["a", 1], ["b", 2]]);
});

Deno.test("application metrics show on /metrics as tern_app_* gauges and counters", () => {
  const { app } = setup();
  app.put("Tank.Level", 40, { unit: "Percent", dimensions: { Tank: "north" } });
  app.put("Tank.Level", 42, { unit: "Percent", dimensions: { Tank: "north" } });
  app.count("PumpStarts");
  app.count("PumpStarts", 2);
  const text = renderPrometheus(app.families());
  assert.match(text, /^tern_app_Tank_Level\{Tank="north"\} 42$/m);
  assert.match(text, /^# TYPE tern_app_PumpStarts_total counter$/m);
  assert.match(text, /^tern_app_PumpStarts_total 3$/m);
});

Deno.test("a sample after its period closed opens a new datum; the closed one is not changed", async () => {
  const { clock, agg, app } = setup();
  const t0 = clock.now();
  app.put("Late", 1);
  app.put("Late", 2);
  const [first] = agg.due(t0 + 60_000);
  assert.deepEqual([first!.c, first!.s], [2, 3]);
  app.put("Late", 5, { time: t0 + 30_000 }); // late, for the closed period
  assert.deepEqual([first!.c, first!.s], [2, 3], "the closed datum is unchanged");
  await clock.advance(60_000);
  app.put("Late", 7); // the next period
  const rest = agg.drain();
  assert.deepEqual(rest.map((d) => [d.t, d.c, d.s]), [[t0, 1, 5], [t0 + 60_000, 1, 7]]);
});

Deno.test("highResolution: true keeps a name per second with storage resolution 1", () => {
  const { clock, agg, app } = setup();
  const t0 = clock.now();
  app.put("Vib", 1, { highResolution: true });
  app.put("Vib", 2, { time: t0 + 1500 }); // the name stays high resolution
  app.put("Slow", 3);
  assert.throws(() => app.put("Slow", 1, { highResolution: true }), /standard resolution already/);
  assert.throws(
    () => app.putMany([{ name: "Slow", value: 1, highResolution: true }]),
    /metrics\[0\]: .*standard/,
  );
  assert.throws(
    () => app.put("Odd", 1, { highResolution: "yes" as unknown as boolean }),
    /true or false/,
  );
  const out = agg.drain().map((d) => [d.n, d.t, d.r, d.c]);
  assert.deepEqual(out, [["Vib", t0, 1, 1], ["Slow", t0, 60, 1], ["Vib", t0 + 1000, 1, 1]]);
});
