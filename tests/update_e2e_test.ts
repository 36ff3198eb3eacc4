/**
 * The whole agent (main.ts `tern run`) updating itself through IoT Jobs, under
 * the systemd stand-in (tests/helpers/supervisor.ts, with the real guard):
 * the Jobs responder on aedes hands out a signed `tern.update` job whose URL
 * is an s3rver presigned URL; the first download is cut mid-body and resumes
 * with a Range request; the agent installs A/B, exits 75, the new binary
 * starts, passes its health check and the job is SUCCEEDED — with the old
 * binary kept as BIN.prev and every step in the audit trail.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { startSupervisor } from "./helpers/supervisor.ts";
import { until } from "./helpers/wait.ts";
import { readOr, THING, updateWorld } from "./update_helpers.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

Deno.test("an agent updates itself end to end: cut download resumed, new version running, job SUCCEEDED, old binary kept", async () => {
  await using w = await updateWorld();
  const v1 = w.agentScript("1.0.0");
  await w.install(v1);
  await using sup = startSupervisor({ bin: w.bin, stateDir: w.state, maxBoots: 2 });
  await until(() => w.peer.received.some((r) => r.op === "start-next"), {
    ms: 30_000,
    what: "the agent asking Jobs for work",
  });

  const v2 = w.agentScript("1.1.0", { pad: 3 * 1024 * 1024 });
  const doc = await w.release(v2, { version: "1.1.0" });
  const ranges: (string | null)[] = [];
  let cut = false;
  w.s3.fault = (req, url) => {
    if (req.method !== "GET" || !url.pathname.includes("releases/")) return undefined;
    ranges.push(req.headers.get("range"));
    if (cut) return undefined;
    cut = true;
    // 1.5 MiB of the object, then the connection breaks.
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= 1.5 * 1024 * 1024) return c.error(new Error("cut"));
        c.enqueue(v2.subarray(sent, sent + 65536));
        sent += 65536;
      },
    });
    return new Response(body, { status: 200 });
  };
  await w.peer.createJob("up-1", doc, [THING]);
  const done = await w.peer.waitStatus(THING, "up-1", "SUCCEEDED", 60_000);
  equal(done.statusDetails.version, "1.1.0");

  // Resumed after the cut from a durable offset (at least the first fsynced MiB).
  equal(ranges[0], null);
  const resumed = ranges.find((r) => r !== null);
  ok(resumed, `a Range request after the cut: ${JSON.stringify(ranges)}`);
  ok(Number(/bytes=(\d+)-/.exec(resumed)![1]) >= 1024 * 1024, resumed);

  // The new binary is in place and running; the old one is kept.
  deepEqual(await readOr(w.bin), v2);
  deepEqual(await readOr(w.bin + ".prev"), v1);
  equal(await readOr(join(w.state, "update", "pending")), undefined);
  equal(sup.runs[0]!.code, 75);
  equal(sup.runs.length, 2);
  equal(sup.runs[1]!.code, null);

  // `tern update status` reads the job from SQLite.
  const st = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-all",
      MAIN,
      "update",
      "status",
      "--json",
      "--config",
      join(w.dir, "conf"),
      "--profile",
      "v1_1_0",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const status = JSON.parse(new TextDecoder().decode(st.stdout));
  equal(status.version, "1.1.0");
  equal(status.jobs[0].jobId, "up-1");
  equal(status.jobs[0].phase, "succeeded");

  await sup.stop();
  // Every step is in the audit trail.
  const db = new DatabaseSync(join(w.state, "tern.db"));
  const actions = (db.prepare(
    "SELECT action FROM _audit WHERE action LIKE 'update.%' ORDER BY seq",
  ).all() as { action: string }[]).map((r) => r.action);
  db.close();
  deepEqual(actions, [
    "update.received",
    "update.download",
    "update.verified",
    "update.installed",
    "update.restart",
    "update.succeeded",
  ]);
});
