/**
 * `kill -9` of an agent shipping its audit trail to CloudTrail Lake (the
 * model-validating local endpoint) and a CloudWatch Logs group (moto), 10
 * times at random moments while it records. After a final clean run has
 * drained the spool: every event in the `_audit` table — each one the
 * children acknowledged, and the agent.start / agent.crash events of every
 * run — was accepted by CloudTrail exactly once (a resend is answered
 * DuplicatedAuditEventId and counted as delivered) and is in CloudWatch
 * Logs exactly once, by id; the chain verifies; `integrity_check` is ok.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { AuditLog, Database } from "../lib/db/mod.ts";
import { forEachLine, killAndCheck, spawnDeno } from "./helpers/process.ts";
import { getLogEvents, startLogsEndpoint, startMoto } from "./helpers/moto.ts";
import { startCloudTrailData } from "./helpers/cloudtrail_data.ts";

const ROUNDS = 10;
const CHILD = new URL("./audit_kill_child.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;
const FLAGS = [
  `--config=${CONFIG}`,
  "--allow-read",
  "--allow-write",
  "--allow-net=127.0.0.1",
  "--allow-env",
  "--allow-run=python3",
];

Deno.test("kill -9 10 times while recording and shipping: every audit event is delivered once by id", async () => {
  await using moto = await startMoto();
  await using logsEp = await startLogsEndpoint(moto);
  await using ct = await startCloudTrailData();
  const dir = await Deno.makeTempDir({ prefix: "tern_audit_kill_" });
  const acked = new Set<string>();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const child = spawnDeno(FLAGS, CHILD, [dir, ct.url, logsEp.url]);
      let ready = () => {};
      const isReady = new Promise<void>((r) => ready = r);
      const reader = forEachLine(child.stdout, (line) => {
        if (line === "ready") ready();
        const m = /^ack (\S+)$/.exec(line);
        if (m) acked.add(m[1]!);
      });
      const stderr = new Response(child.stderr).text();
      await Promise.race([isReady, child.status]);
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 400));
      await killAndCheck(child, reader, stderr, `round ${round}`);
    }
    assert.ok(ct.events.size > 0, "events went up before the last kill");
    const child = spawnDeno(FLAGS, CHILD, [dir, ct.url, logsEp.url]);
    const reader = forEachLine(child.stdout, () => {});
    const stderr = new Response(child.stderr).text();
    const group = "/tern/audit";
    let all: { id: string; action: string }[] = [];
    let cw: string[] = [];
    const end = Date.now() + 60_000;
    for (;;) {
      {
        using db = Database.open({ path: join(dir, "tern.db"), purgeInterval: 0 });
        all = new AuditLog(db, { create: false }).list({ limit: 1_000_000 });
      }
      cw = (await getLogEvents(moto, group, "d1").catch(() => [])).map((e) => e.message);
      const ids = new Set(cw.map((m) => JSON.parse(m).id as string));
      // The final run keeps recording: done once everything up to the last kill is there.
      if (
        [...acked].every((id) => ct.events.has(id) && ids.has(id)) &&
        all.filter((e) => e.action !== "app.kill.tick").every((e) =>
          ct.events.has(e.id) && ids.has(e.id)
        )
      ) break;
      if (Date.now() > end) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await killAndCheck(child, reader, stderr, "final run");
    for (const id of acked) {
      assert.ok(ct.events.has(id), `acknowledged event ${id} not in CloudTrail`);
    }
    const cwIds = new Map<string, number>();
    for (const m of cw) {
      const id = JSON.parse(m).id as string;
      cwIds.set(id, (cwIds.get(id) ?? 0) + 1);
    }
    for (const id of acked) assert.ok(cwIds.has(id), `acknowledged event ${id} not in CloudWatch`);
    assert.deepEqual([...cwIds].filter(([, n]) => n > 1), [], "events twice in CloudWatch Logs");
    // CloudTrail: each id accepted once (the endpoint keeps one entry per id); the table's
    // ids and CloudTrail's agree for every event before the final run's own ticks.
    {
      using db = Database.open({ path: join(dir, "tern.db"), purgeInterval: 0 });
      all = new AuditLog(db, { create: false }).list({ limit: 1_000_000 });
    }
    const known = new Set(all.map((e) => e.id));
    for (const id of ct.events.keys()) {
      assert.ok(known.has(id), `CloudTrail has an unknown id ${id}`);
    }
    const crashes = all.filter((e) => e.action === "agent.crash").length;
    const lifecycle = all.filter((e) => e.action.startsWith("agent.")).map((e) =>
      `${e.action} ${e.id.slice(0, 8)}`
    );
    assert.equal(
      crashes,
      ROUNDS,
      `each kill is an agent.crash at the next start: ${lifecycle.join(", ")}`,
    );
    assert.deepEqual(ct.invalid, []);
    assert.ok(acked.size > 100, `the children recorded (${acked.size} events)`);
    using db = Database.open({ path: join(dir, "tern.db"), purgeInterval: 0 });
    assert.equal(new AuditLog(db).verify().ok, true);
    assert.deepEqual(
      db.sql.prepare("PRAGMA integrity_check").all().map((r) => ({ ...r })),
      [{ integrity_check: "ok" }],
    );
    assert.equal(ct.server.rejected, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
