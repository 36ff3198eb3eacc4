/**
 * kill -9 through an update, with the update child (tests/update_child.ts:
 * the real Updater, MQTT and Jobs clients, store and installer) as the
 * binary under the systemd stand-in and the real guard:
 *
 * - at every install step (stage, keep, mark, swap, after the rename before it
 *   is recorded, restart), twice each:
 *   every start after the kill runs a working binary ("running X"), and the
 *   job ends SUCCEEDED with the new binary in place and the old one kept;
 * - during the download: the next start resumes it with a Range request
 *   from the durable offset, and the job ends SUCCEEDED;
 * - during a rollback (a new version that fails its health check), before
 *   the restore and after the rollback note was written but before the copy,
 *   twice each: the old binary comes back and the job is FAILED.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { startSupervisor } from "./helpers/supervisor.ts";
import { until } from "./helpers/wait.ts";
import { readOr, THING, updateWorld } from "./update_helpers.ts";

const STEPS = ["stage", "keep", "mark", "swap", "swapped", "restart"] as const;

Deno.test("kill -9 at every install step, twice each: the device always comes up with a working binary and the job succeeds", async () => {
  await using w = await updateWorld();
  let current = w.childScript("1.0.0");
  await w.install(current);
  await using sup = startSupervisor({ bin: w.bin, stateDir: w.state, maxBoots: 3 });
  let minor = 0;
  for (let round = 0; round < 2; round++) {
    for (const step of STEPS) {
      const version = `1.${++minor}.0`;
      const id = `kill-${step}-${round}`;
      for await (const e of Deno.readDir(w.state)) {
        if (e.name.startsWith("paused-")) await Deno.remove(join(w.state, e.name));
      }
      await Deno.writeTextFile(join(w.state, "pause-at"), step);
      const next = w.childScript(version);
      await w.peer.createJob(id, await w.release(next, { version }), [THING]);
      await until(() => sup.lines.includes(`paused at ${step}`), {
        ms: 20_000,
        what: `${id}: the child at ${step}`,
      });
      sup.lines.splice(sup.lines.indexOf(`paused at ${step}`), 1);
      const killed = sup.runs.length - 1;
      sup.kill9();
      const e = await w.peer.waitStatus(THING, id, "SUCCEEDED", 8_000).catch((err) => {
        console.log(sup.lines.join("\n"), JSON.stringify(sup.runs));
        throw err;
      });
      equal(e.statusDetails.version, version, id);
      deepEqual(await readOr(w.bin), next, `${id}: the new binary is in place`);
      deepEqual(await readOr(w.bin + ".prev"), current, `${id}: the old one is kept`);
      await until(
        () => sup.lines.filter((l) => l.startsWith("running ")).length === sup.runs.length,
        {
          ms: 10_000,
          what: `${id}: every start ran a working binary`,
        },
      );
      ok(sup.runs.length > killed + 1, `${id}: restarted after the kill`);
      equal(sup.runs[killed]!.code, "SIGKILL", `${id}: the kill ended the run at the step`);
      equal(sup.runs.at(-1)!.code, null);
      ok(sup.lines.includes(`running ${version}`), id);
      current = next;
    }
  }
  // Every start ran a working binary, and no rollback was ever needed.
  ok(
    sup.runs.slice(0, -1).every((r) => r.code === 75 || r.code === "SIGKILL"),
    JSON.stringify(sup.runs),
  );
  equal(sup.lines.filter((l) => l.includes("update.rollback")).length, 0);
});

Deno.test("kill -9 during the download: the next start resumes it with a Range request and the job succeeds", async () => {
  await using w = await updateWorld({ bandwidth: 1024 * 1024 });
  await w.install(w.childScript("1.0.0"));
  const ranges: (string | null)[] = [];
  w.s3.fault = (req, url) => {
    if (req.method === "GET" && url.pathname.includes("releases/")) {
      ranges.push(req.headers.get("range"));
    }
    return undefined;
  };
  await using sup = startSupervisor({ bin: w.bin, stateDir: w.state, maxBoots: 3 });
  const next = w.childScript("2.0.0", { pad: 3 * 1024 * 1024 });
  await w.peer.createJob("dl", await w.release(next, { version: "2.0.0" }), [THING]);
  const bytes = () => {
    try {
      const db = new DatabaseSync(join(w.state, "tern.db"), { readOnly: true });
      try {
        return (db.prepare("SELECT bytes FROM _update WHERE job_id = 'dl'").get() as
          | { bytes: number }
          | undefined)?.bytes ?? 0;
      } finally {
        db.close();
      }
    } catch {
      return 0;
    }
  };
  await until(() => bytes() >= 1024 * 1024, { ms: 20_000, what: "1 MiB durable" });
  sup.kill9();
  await w.peer.waitStatus(THING, "dl", "SUCCEEDED", 30_000);
  equal(ranges[0], null);
  const resumed = ranges.find((r) => r !== null);
  ok(resumed, JSON.stringify(ranges));
  ok(Number(/bytes=(\d+)-/.exec(resumed)![1]) >= 1024 * 1024, resumed);
  deepEqual(await readOr(w.bin), next);
  equal(sup.runs[0]!.code, "SIGKILL");
});

Deno.test("kill -9 during a rollback, before and in the middle of the restore, twice each: the old binary comes back and the job is FAILED", async () => {
  await using w = await updateWorld();
  const v1 = w.childScript("1.0.0");
  await w.install(v1);
  await using sup = startSupervisor({ bin: w.bin, stateDir: w.state, maxBoots: 3 });
  let n = 0;
  for (const step of ["restore", "restore-copy", "restore", "restore-copy"]) {
    const id = `rb-${step}-${++n}`;
    for await (const e of Deno.readDir(w.state)) {
      if (e.name.startsWith("paused-")) await Deno.remove(join(w.state, e.name));
    }
    await Deno.writeTextFile(join(w.state, "pause-at"), step);
    const version = `1.${n}.0`;
    const sick = w.childScript(version, { unhealthy: true });
    await w.peer.createJob(id, await w.release(sick, { version }), [THING]);
    await until(() => sup.lines.includes(`paused at ${step}`), {
      ms: 20_000,
      what: `${id}: the new binary at ${step}`,
    });
    sup.lines.splice(sup.lines.indexOf(`paused at ${step}`), 1);
    const killed = sup.runs.length - 1;
    sup.kill9();
    const e = await w.peer.waitStatus(THING, id, "FAILED", 20_000);
    equal(e.statusDetails.reason, "rolled-back", id);
    ok(/unhealthy on purpose/.test(e.statusDetails.message ?? ""), JSON.stringify(e.statusDetails));

    deepEqual(await readOr(w.bin), v1, `${id}: the old binary is back`);
    equal(sup.runs[killed]!.code, "SIGKILL");
    await until(
      () => sup.lines.filter((l) => l.startsWith("running ")).length === sup.runs.length,
      {
        ms: 10_000,
        what: `${id}: every start ran a working binary`,
      },
    );
    equal(sup.runs.at(-1)!.code, null);
  }
  equal(await readOr(join(w.state, "update", "pending")), undefined);
  equal(await readOr(join(w.state, "update", "rollback")), undefined);
});
