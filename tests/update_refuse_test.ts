/**
 * What a device refuses, with the whole agent under the systemd stand-in:
 * a job canceled in the cloud mid-download (the download stops, its part is
 * deleted, nothing is installed), then a bad signature, a hash mismatch, a
 * wrong target, a downgrade, a size mismatch and not enough disk — each job
 * FAILED with its reason in statusDetails, the binary untouched, no restart,
 * and no byte downloaded for what can be refused from the document alone.
 * Throttled Jobs requests (RequestThrottled) are retried, a VersionMismatch
 * re-reads the execution and sends again; a job for the version
 * already running succeeds without doing anything.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { startSupervisor } from "./helpers/supervisor.ts";
import { until } from "./helpers/wait.ts";
import { readOr, TARGET, THING, updateWorld } from "./update_helpers.ts";

Deno.test("canceled mid-download and six refusals: each job ends with its reason, nothing changes on the device", async () => {
  // 1 MiB/s: a 3 MiB release takes about 3 s, long enough to cancel it midway.
  await using w = await updateWorld({ bandwidth: 1024 * 1024 });
  const v1 = w.agentScript("1.0.0");
  await w.install(v1);
  const gets: string[] = [];
  w.s3.fault = (req, url) => {
    if (req.method === "GET" && url.pathname.includes("releases/")) gets.push(url.pathname);
    return undefined;
  };
  await using sup = startSupervisor({ bin: w.bin, stateDir: w.state, maxBoots: 2 });
  await until(() => w.peer.received.some((r) => r.op === "start-next"), { ms: 30_000 });

  // Canceled in the cloud while downloading.
  const big = await w.release(w.agentScript("1.1.0", { pad: 3 * 1024 * 1024 }), {
    version: "1.1.0",
  });
  await w.peer.createJob("cancel-me", big, [THING]);
  await until(() => gets.length > 0, { ms: 15_000, what: "the download" });
  await new Promise((r) => setTimeout(r, 500));
  await w.peer.cancelJob("cancel-me");
  await until(async () => {
    for await (const e of Deno.readDir(join(w.state, "update"))) {
      if (e.name.endsWith(".part")) return false;
    }
    return true;
  }, { ms: 10_000, what: "the part file deleted" });

  const payload = w.agentScript("1.2.0");
  const jobs: [string, Record<string, unknown>, string][] = [
    ["sig", await w.release(payload, { version: "1.2.0", sign: "stranger" }), "bad-signature"],
    [
      "hash",
      await w.release(payload, { version: "1.2.0", sha256: "ab".repeat(32) }),
      "hash-mismatch",
    ],
    [
      "target",
      await w.release(payload, {
        version: "1.2.0",
        target: TARGET === "x86_64-unknown-linux-gnu"
          ? "aarch64-unknown-linux-gnu"
          : "x86_64-unknown-linux-gnu",
      }),
      "wrong-target",
    ],
    ["downgrade", await w.release(payload, { version: "0.9.0" }), "downgrade"],
    [
      "size",
      await w.release(payload, { version: "1.2.0", size: payload.length + 10 }),
      "size-mismatch",
    ],
    ["disk", await w.release(payload, { version: "1.2.0", size: 2 ** 50 }), "no-disk"],
  ];
  w.peer.throttle = 2;
  w.peer.mismatch = 2;
  for (const [id, doc] of jobs) await w.peer.createJob(id, doc, [THING]);
  for (const [id, , reason] of jobs) {
    const e = await w.peer.waitStatus(THING, id, "FAILED", 20_000);
    equal(e.statusDetails.reason, reason, `${id}: ${JSON.stringify(e.statusDetails)}`);
    ok((e.statusDetails.message ?? "").length > 10, e.statusDetails.message ?? "no message");
  }
  equal(w.peer.throttle, 0);
  equal(w.peer.mismatch, 0);
  // After each VersionMismatch the device re-read the execution and sent its update again.
  const ops = w.peer.received.map((r) => `${r.op}:${r.jobId ?? ""}`);
  ok(ops.filter((o) => o === "get:sig").length >= 1, ops.join(" "));
  // A fleet-wide job reaching a device that already runs its version: SUCCEEDED, nothing done.
  await w.peer.createJob("same", await w.release(payload, { version: "1.0.0" }), [THING]);
  const same = await w.peer.waitStatus(THING, "same", "SUCCEEDED", 10_000);
  equal(same.statusDetails.step, "already-running");
  ok(
    w.peer.received.some((r) => r.op === "start-next" && r.payload.stepTimeoutInMinutes === 30),
  );
  // The cloud's cancel stands; the device never reported over it.
  equal(w.peer.execution(THING, "cancel-me")!.status, "CANCELED");

  // Only the hash and size jobs downloaded anything (the others fail on the document).
  const keysOf = (id: string) =>
    new URL(/presigned-url:(.+)\}$/.exec(String(jobs.find((j) => j[0] === id)![1].url))![1]!)
      .pathname;
  for (const id of ["sig", "target", "downgrade", "disk"]) {
    ok(!gets.includes(keysOf(id)), `${id} downloaded nothing`);
  }
  // Nothing changed: same binary, no staged or previous copy, no restart.
  deepEqual(await readOr(w.bin), v1);
  equal(await readOr(w.bin + ".next"), undefined);
  equal(await readOr(w.bin + ".prev"), undefined);
  equal(sup.runs.length, 1);
  await sup.stop();
  const db = new DatabaseSync(join(w.state, "tern.db"));
  const phases = Object.fromEntries(
    (db.prepare("SELECT job_id, phase FROM _update").all() as { job_id: string; phase: string }[])
      .map((r) => [r.job_id, r.phase]),
  );
  const failed = db.prepare(
    "SELECT count(*) AS n FROM _audit WHERE action = 'update.failed' AND outcome = 'failure'",
  ).get() as { n: number };
  db.close();
  equal(phases["cancel-me"], "canceled");
  for (const [id] of jobs) equal(phases[id], "failed");
  equal(failed.n, 6);
});
