/**
 * A new version that is no good is rolled back, with the whole agent under
 * the systemd stand-in and the real guard (deploy/systemd/tern-guard.sh):
 *
 * - one that crashes at start: after `maxBoots` (2) starts the guard puts
 *   the previous binary back; the previous agent reports the job FAILED;
 * - one that starts but never passes its health check (its broker is
 *   unreachable): the new agent restores the previous binary itself after
 *   `healthTimeout` and exits 75; the previous agent reports FAILED.
 */

import { deepEqual, equal, match } from "node:assert/strict";
import { startSupervisor } from "./helpers/supervisor.ts";
import { freePort } from "./helpers/process.ts";
import { until } from "./helpers/wait.ts";
import { readOr, THING, updateWorld } from "./update_helpers.ts";

Deno.test("a version crashing at start and one failing its health check are rolled back: old binary back, jobs FAILED with the reason", async () => {
  await using w = await updateWorld();
  const v1 = w.agentScript("1.0.0");
  await w.install(v1);
  await using sup = startSupervisor({ bin: w.bin, stateDir: w.state, maxBoots: 2 });
  await until(() => w.peer.received.some((r) => r.op === "start-next"), { ms: 30_000 });

  await w.peer.createJob("crash", await w.release(w.crashScript(), { version: "1.1.0" }), [THING]);
  const crash = await w.peer.waitStatus(THING, "crash", "FAILED", 30_000);
  equal(crash.statusDetails.reason, "rolled-back");
  match(crash.statusDetails.message!, /did not become healthy in 2 starts/);
  deepEqual(await readOr(w.bin), v1);
  deepEqual(sup.runs.map((r) => r.code), [75, 1, 1, null]);

  const sick = w.agentScript("1.2.0", {
    profile: { mqtt: { url: `mqtt://127.0.0.1:${freePort()}` } },
  });
  await w.peer.createJob("sick", await w.release(sick, { version: "1.2.0" }), [THING]);
  const e = await w.peer.waitStatus(THING, "sick", "FAILED", 30_000);
  equal(e.statusDetails.reason, "rolled-back");
  match(e.statusDetails.message!, /health check failed after 4000 ms: not connected/);
  deepEqual(await readOr(w.bin), v1);
  deepEqual(sup.runs.map((r) => r.code), [75, 1, 1, 75, 75, null]);
  equal(await readOr(`${w.state}/update/pending`), undefined);
});
