/**
 * The "update" service in an in-process agent (database, mqtt, update) and
 * `/api/status` through `app.request()`, against aedes, s3rver and the Jobs
 * responder: download progress shows in the status while a bandwidth-limited
 * download runs; outside the maintenance window a verified release waits
 * (`waitingFor`) and the binary stays untouched; canceled in the cloud, it
 * ends canceled with nothing installed.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { Agent } from "../lib/agent.ts";
import { configSchema } from "../lib/config/mod.ts";
import { LIBRARY_SERVICES } from "../lib/services.ts";
import type { DatabaseService } from "../lib/db/mod.ts";
import { buildApp } from "../routes/web_service.ts";
import { nullLogger } from "../lib/log/mod.ts";
import { systemClock } from "../lib/clock.ts";
import { until } from "./helpers/wait.ts";
import { readOr, THING, updateWorld } from "./update_helpers.ts";

const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);

Deno.test("status shows download progress; outside the window a verified release waits; a cancel leaves the binary untouched", async () => {
  await using w = await updateWorld();
  const v1 = w.childScript("1.0.0");
  await w.install(v1);
  const config = configSchema.parse({
    agent: { mode: "cloud" },
    device: { id: THING },
    mqtt: { enabled: true, url: w.broker.url, reconnect: { min: 20, max: 200 } },
    update: {
      enabled: true,
      binary: w.bin,
      version: "1.0.0",
      keys: w.keys,
      hosts: [w.host],
      bandwidth: 1024 * 1024,
      // A window that opens in an hour: nothing may be installed now.
      window: [{ from: hhmm(Date.now() + 3_600_000), to: hhmm(Date.now() + 7_200_000) }],
      backoff: { min: 50, max: 400 },
    },
  });
  const agent = await Agent.start({
    loaded: { config, configDir: w.dir, stateDir: w.state, files: [], secrets: [] },
    factories: LIBRARY_SERVICES,
  });
  try {
    const { app, deps } = buildApp(
      configSchema.parse({ web: { auth: { iterations: 10_000 }, static: { enabled: false } } }),
      {
        log: nullLogger,
        clock: systemClock,
        db: agent.get<DatabaseService>("database").db,
        service: () => undefined,
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
    equal(setup.status, 201);
    const cookie = setup.headers.get("set-cookie")!.split(";")[0]!;
    await setup.body?.cancel();
    const status = async () => {
      const s = await (await app.request(
        new Request("http://dev.local/api/status", { headers: { cookie } }),
      )).json();
      return s.services.find((x: { name: string }) => x.name === "update").details;
    };

    const next = w.childScript("1.1.0", { pad: 2 * 1024 * 1024 });
    await w.peer.createJob("win", await w.release(next, { version: "1.1.0" }), [THING]);
    await until(async () => {
      const d = await status();
      return d.job?.phase === "downloading" && d.job.percent > 0 && d.job.percent < 100;
    }, { ms: 15_000, what: "progress in /api/status" });
    const during = await status();
    equal(during.version, "1.0.0");
    equal(during.job.jobId, "win");
    equal(during.job.size, next.length);
    await until(async () => (await status()).waitingFor === "maintenance window", {
      ms: 15_000,
      what: "waiting for the window",
    });
    equal((await status()).job.phase, "verified");
    deepEqual(await readOr(w.bin), v1);
    equal(await readOr(w.bin + ".next"), undefined);
    const e = w.peer.execution(THING, "win")!;
    equal(e.status, "IN_PROGRESS");
    equal(e.statusDetails.step, "verified");

    await w.peer.cancelJob("win");
    await until(async () => (await status()).job?.phase === "canceled", { ms: 10_000 });
    ok(!(await readOr(join(w.state, "update", "win.part"))));
    deepEqual(await readOr(w.bin), v1);
  } finally {
    await agent.stop();
  }
});
