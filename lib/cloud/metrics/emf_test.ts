import assert from "node:assert/strict";
import { decodeEvent } from "../logs/mod.ts";
import { emfDocuments, emfRecords, emfValues } from "./emf.ts";
import type { Datum } from "./limits.ts";

const T = 1_767_225_600_000;
const d = (n: string, extra: Partial<Datum> = {}): Datum => ({
  n,
  u: "Count",
  d: [["Device", "d1"]],
  t: T,
  r: 60,
  c: 1,
  s: 1,
  mn: 1,
  mx: 1,
  x: [1],
  ...extra,
});

Deno.test("EMF: at most 100 metrics per record; 101 make two records of the same dimensions", () => {
  for (const [n, sizes] of [[100, [100]], [101, [100, 1]], [250, [100, 100, 50]]] as const) {
    const docs = emfDocuments(Array.from({ length: n }, (_, i) => d(`M${i}`)), "Tern");
    const metrics = docs.map((doc) =>
      (doc._aws as { CloudWatchMetrics: { Metrics: unknown[] }[] })
        .CloudWatchMetrics[0]!.Metrics.length
    );
    assert.deepEqual(metrics, sizes, `${n} metrics`);
    for (const doc of docs) {
      assert.equal(doc.Device, "d1", "every record carries its dimension members");
      assert.equal((doc._aws as { Timestamp: number }).Timestamp, T);
    }
  }
});

Deno.test("EMF: at most 100 values per metric, with the period's extremes and mean", () => {
  assert.deepEqual(emfValues(d("A", { c: 3, s: 6, mn: 1, mx: 3, x: [1, 2, 3] })), [1, 2, 3]);
  const x = Array.from({ length: 100 }, (_, i) => i);
  assert.deepEqual(emfValues(d("B", { c: 100, s: 4950, mn: 0, mx: 99, x })), x, "100 samples: all");
  const many = emfValues(d("C", { c: 10_000, s: 250_000, mn: 0, mx: 100, x: undefined }));
  assert.equal(many.length, 100);
  assert.equal(Math.min(...many), 0);
  assert.equal(Math.max(...many), 100);
  assert.ok(Math.abs(many.reduce((a, b) => a + b, 0) / 100 - 25) < 1e-9, "the mean is kept");
  assert.deepEqual(emfValues(d("Ctr", { kind: "counter", c: 7, s: 42, x: undefined })), [42]);
  const h = emfValues(d("H", { v: [10, 100], k: [300, 100], c: 400, x: undefined }));
  assert.equal(h.length, 100);
  assert.deepEqual([h.filter((v) => v === 10).length, h.filter((v) => v === 100).length], [75, 25]);
});

Deno.test("EMF: one record per dimension set; a metric named like a dimension is left out", () => {
  const docs = emfDocuments([
    d("Load"),
    d("Temp", { d: [["Device", "d1"], ["Zone", "cpu"]] }),
    d("Zone", { d: [["Device", "d1"], ["Zone", "cpu"]] }),
    d("Load", { u: "Percent" }), // the same name twice in one set: a second record
  ], "Tern");
  assert.equal(docs.length, 3);
  assert.ok(docs.every((doc) => !("Zone" in doc) || doc.Zone === "cpu"));
  const recs = emfRecords([d("Load")], {
    namespace: "Tern",
    group: "/tern/d1",
    stream: "d1/metrics",
  });
  const e = decodeEvent(recs[0]!.data);
  assert.deepEqual([e.group, e.stream, recs[0]!.time], ["/tern/d1", "d1/metrics", T]);
  assert.equal(JSON.parse(e.message).Load, 1);
});

Deno.test("EMF: {date} in the group or stream is the record's UTC day", () => {
  const recs = emfRecords([d("Load"), d("Load", { t: T + 86_400_000 })], {
    namespace: "Tern",
    group: "/tern/d1/{date}",
    stream: "m-{date}",
  });
  assert.deepEqual(recs.map((r) => decodeEvent(r.data)).map((e) => [e.group, e.stream]), [
    ["/tern/d1/2026-01-01", "m-2026-01-01"],
    ["/tern/d1/2026-01-02", "m-2026-01-02"],
  ]);
});
