/**
 * `kill -9` of an agent with CloudWatch metrics 10 times at random moments
 * while it closes a period every 50 ms and sends them (the endpoint slowed by
 * 20 ms per request, so kills land mid-request too). After a final clean run
 * has drained the spool: every period closed before a kill is in moto, every
 * period in moto is there exactly once (SampleCount 10, never 20), the
 * spool's appended count equals what moto holds, and `integrity_check` is ok.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { forEachLine, killAndCheck, spawnDeno } from "./helpers/process.ts";
import { startMoto } from "./helpers/moto.ts";
import { startMetricsEndpoint, statistics } from "./helpers/moto_metrics.ts";

const ROUNDS = 10;
const CHILD = new URL("./cloud_metrics_kill_child.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;
const FLAGS = [
  `--config=${CONFIG}`,
  "--allow-read",
  "--allow-write",
  "--allow-net=127.0.0.1",
  "--allow-env",
];

Deno.test("kill -9 10 times while periods close and send: every period appears exactly once", async () => {
  await using moto = await startMoto();
  let puts = 0;
  let confirms = 0;
  await using ep = await startMetricsEndpoint(moto, {
    intercept: async (req) => {
      if (req.target?.endsWith(".PutMetricData")) puts++;
      if (req.target?.endsWith(".GetMetricStatistics")) confirms++;
      await new Promise((r) => setTimeout(r, 20));
      return undefined;
    },
  });
  const dir = await Deno.makeTempDir({ prefix: "tern_metrics_kill_" });
  const p0 = Math.floor(Date.now() / 50);
  const base = Math.floor(Date.now() / 1000) * 1000 - 3 * 3600_000;
  const closed = new Set<number>();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const child = spawnDeno(FLAGS, CHILD, [dir, ep.url, String(base), String(p0)]);
      let ready = () => {};
      const isReady = new Promise<void>((r) => ready = r);
      const reader = forEachLine(child.stdout, (line) => {
        if (line === "ready") ready();
        const m = /^closed (\d+)$/.exec(line);
        if (m) closed.add(Number(m[1]));
      });
      const stderr = new Response(child.stderr).text();
      await Promise.race([isReady, child.status]);
      const before = puts;
      const until = Date.now() + 300 + Math.random() * 700;
      while (Date.now() < until || puts === before) await new Promise((r) => setTimeout(r, 5));
      await killAndCheck(child, reader, stderr, `round ${round}`);
    }
    // A final clean run sends what is left.
    const child = spawnDeno(FLAGS, CHILD, [dir, ep.url, String(base), String(p0), "drain"]);
    let drained = () => {};
    const isDrained = new Promise<void>((r) => drained = r);
    const reader = forEachLine(child.stdout, (line) => line === "drained" && drained());
    const stderr = new Response(child.stderr).text();
    await Promise.race([isDrained, new Promise((r) => setTimeout(r, 30_000))]);
    const { code } = await child.status;
    await reader;
    assert.equal(code, 0, await stderr);
    // Every period in moto, once.
    const last = Math.max(...closed);
    const seen = new Map<number, number>();
    for (let from = base; from <= last; from += 300_000) {
      const points = await statistics(moto, {
        name: "KillTest",
        dimensions: { Device: "d1" },
        start: from,
        end: Math.min(from + 300_000, last + 1000),
        period: 1,
      });
      for (const p of points) seen.set(p.Timestamp * 1000, p.SampleCount);
    }
    const twice = [...seen].filter(([, c]) => c !== 10);
    assert.deepEqual(twice, [], "periods sent more than once (SampleCount ≠ 10)");
    const missing = [...closed].filter((t) => !seen.has(t));
    assert.deepEqual(missing, [], "periods closed before a kill and never sent");
    assert.ok(closed.size > 50, `the children closed ${closed.size} periods`);
    assert.ok(confirms > 0, "a kill landed mid-request: the next run asked CloudWatch first");
    const db = new DatabaseSync(join(dir, "tern.db"));
    try {
      const row = db.prepare(
        "SELECT appended, sent, dropped, refused FROM _spool_streams WHERE name = 'metrics.put'",
      ).get() as { appended: number; sent: number; dropped: number; refused: number };
      assert.deepEqual({ ...row }, {
        appended: seen.size,
        sent: seen.size,
        dropped: 0,
        refused: 0,
      });
      const left = db.prepare("SELECT count(*) AS n FROM _spool").get() as { n: number };
      assert.equal(left.n, 0);
      const rows = db.prepare("PRAGMA integrity_check").all().map((r) => ({ ...r }));
      assert.deepEqual(rows, [{ integrity_check: "ok" }]);
    } finally {
      db.close();
    }
    assert.equal(ep.rejected, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
