/**
 * The "cloud.shadow" service in a real agent (database, mqtt, shadows, web
 * app through `app.request()`), against mosquitto and moto: a shadow bound to
 * a model in config only — the item's fields reach moto as reported, a
 * desired setpoint is written to the item with origin `cloud` and reported
 * back; REST `/api/shadow/:name` role-checked; status in `/api/status`;
 * a local-mode agent never loads the shadow code.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { Agent } from "../lib/agent.ts";
import { configSchema } from "../lib/config/mod.ts";
import type { DatabaseService } from "../lib/db/mod.ts";
import type { ShadowService } from "../lib/cloud/shadow/mod.ts";
import type { AuditService } from "../lib/cloud/audit/mod.ts";
import { LIBRARY_SERVICES } from "../lib/services.ts";
import { buildApp } from "../routes/web_service.ts";
import { nullLogger } from "../lib/log/mod.ts";
import { systemClock } from "../lib/clock.ts";
import { until } from "./helpers/wait.ts";
import {
  boundShadowAgent,
  shadowWorld,
  skipShadowTests,
  THERMOSTAT_MODELS,
  THING,
} from "./shadow_helpers.ts";

const ignore = skipShadowTests(import.meta.url);

Deno.test({
  name:
    "a model bound in config only: item → reported in moto; cloud desired → item (origin cloud) → reported; REST and status",
  ignore,
  async fn() {
    await using w = await shadowWorld();
    const agent = await boundShadowAgent(w);
    try {
      const db = agent.get<DatabaseService>("database").db;
      const shadows = agent.get<ShadowService>("cloud.shadow");
      db.put("Thermostat", { id: "main", setpoint: 19, temperature: 20.5, pin: "1234" });
      await until(
        async () => (await w.peer.read(THING, "thermostat"))?.state.reported?.temperature === 20.5,
        {
          ms: 10_000,
          what: "reported temperature in moto",
        },
      );
      deepEqual((await w.peer.read(THING, "thermostat"))?.state.reported, {
        setpoint: 19,
        temperature: 20.5,
      }, "hidden and key fields stay on the device");
      await w.peer.cloudUpdate(THING, "thermostat", { desired: { setpoint: 22.5 } });
      await until(() => db.get("Thermostat", { id: "main" })?.setpoint === 22.5, {
        ms: 10_000,
        what: "setpoint written to the item",
      });
      const change = db.changes(0).filter((c) => c.model === "Thermostat").at(-1)!;
      equal(change.origin, "cloud");
      await until(
        async () => (await w.peer.read(THING, "thermostat"))?.state.reported?.setpoint === 22.5,
        {
          ms: 10_000,
          what: "reported setpoint 22.5",
        },
      );
      // A desired value the model refuses is not reported (the delta stays).
      await w.peer.cloudUpdate(THING, "thermostat", { desired: { setpoint: "hot" } });
      await new Promise((r) => setTimeout(r, 300));
      equal(db.get("Thermostat", { id: "main" })?.setpoint, 22.5);
      equal((await w.peer.read(THING, "thermostat"))?.state.reported?.setpoint, 22.5);
      await shadows.get("thermostat").synced(AbortSignal.timeout(5000));
      // Each desired change handed to the device is one audit event, actor cloud.
      const desired = agent.get<AuditService>("audit").trail.log.list({ action: "shadow.desired" });
      deepEqual(desired.map((e) => [e.actor.type, e.source, e.target, e.details?.delta]), [
        ["cloud", "cloud", "shadow:thermostat", { setpoint: 22.5 }],
        ["cloud", "cloud", "shadow:thermostat", { setpoint: "hot" }],
      ]);

      // status
      const st = agent.states().find((s) => s.name === "cloud.shadow")!;
      equal(st.state, "running");
      const details = st.details as {
        shadows: Record<string, { version: number; pending: number }>;
      };
      equal(details.shadows.thermostat!.version, (await w.peer.read(THING, "thermostat"))!.version);
      equal(details.shadows.thermostat!.pending, 0);
      const fam = shadows.metricFamilies().find((f) => f.name === "tern_shadow_version")!;
      deepEqual(fam.series, [{
        labels: { shadow: "thermostat" },
        value: details.shadows.thermostat!.version,
      }]);

      // REST, role-checked
      const { app, deps } = buildApp(
        configSchema.parse({ web: { auth: { iterations: 10_000 }, static: { enabled: false } } }),
        {
          log: nullLogger,
          clock: systemClock,
          db,
          service: (n) => (n === "cloud.shadow" ? shadows : undefined),
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
      const anon = await app.request(new Request("http://dev.local/api/shadow/thermostat"));
      equal(anon.status, 401);
      await anon.body?.cancel();
      const me = await (await app.request(
        new Request("http://dev.local/api/auth/me", { headers: { cookie } }),
      )).json();
      const got = await app.request(
        new Request("http://dev.local/api/shadow/thermostat", { headers: { cookie } }),
      );
      equal(got.status, 200);
      const body = await got.json();
      equal(body.reported.setpoint, 22.5);
      equal(body.version, details.shadows.thermostat!.version);
      const patch = (b: unknown) =>
        app.request(
          new Request("http://dev.local/api/shadow/thermostat", {
            method: "PATCH",
            headers: { cookie, "content-type": "application/json", "x-xsrf-token": me.xsrf },
            body: JSON.stringify(b),
          }),
        );
      const bad = await patch({ reported: { x: "y".repeat(9000) } });
      equal(bad.status, 400);
      ok((await bad.json()).error.message.includes("8192"));
      const unknown = await app.request(
        new Request("http://dev.local/api/shadow/nope", { headers: { cookie } }),
      );
      equal(unknown.status, 404);
      await unknown.body?.cancel();
      const ok2 = await patch({ reported: { note: "from rest" } });
      equal(ok2.status, 200);
      await ok2.body?.cancel();
      await until(
        async () => (await w.peer.read(THING, "thermostat"))?.state.reported?.note === "from rest",
        {
          ms: 10_000,
        },
      );
      await shadows.get("thermostat").synced(AbortSignal.timeout(5000));
      // /api/status carries each shadow's version, last sync and pending.
      const status = await (await app.request(
        new Request("http://dev.local/api/status", { headers: { cookie } }),
      )).json();
      const svc = status.services.find((x: { name: string }) => x.name === "cloud.shadow");
      equal(svc.details.shadows.thermostat.pending, 0);
      ok(svc.details.shadows.thermostat.lastSync > 0);
      equal(svc.details.shadows.thermostat.version, shadows.get("thermostat").get().version);
      // A plain user may read but not write.
      const made = await app.request(
        new Request("http://dev.local/api/users", {
          method: "POST",
          headers: { cookie, "content-type": "application/json", "x-xsrf-token": me.xsrf },
          body: JSON.stringify({ username: "viewer", password: "pw-pw-pw-pw", role: "user" }),
        }),
      );
      equal(made.status, 201);
      await made.body?.cancel();
      const login = await app.request(
        new Request("http://dev.local/api/auth/login", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username: "viewer", password: "pw-pw-pw-pw" }),
        }),
      );
      const viewer = login.headers.get("set-cookie")!.split(";")[0]!;
      const vx = (await login.json()).xsrf;
      const read = await app.request(
        new Request("http://dev.local/api/shadow/thermostat", { headers: { cookie: viewer } }),
      );
      equal(read.status, 200);
      await read.body?.cancel();
      const denied = await app.request(
        new Request("http://dev.local/api/shadow/thermostat", {
          method: "PATCH",
          headers: { cookie: viewer, "content-type": "application/json", "x-xsrf-token": vx },
          body: JSON.stringify({ reported: { note: "no" } }),
        }),
      );
      equal(denied.status, 403);
      await denied.body?.cancel();
      equal(shadows.get("thermostat").get().reported.note, "from rest");
      for (const c of deps.closers ?? []) c();
      deps.auth?.close();
    } finally {
      await agent.stop();
    }
  },
});

Deno.test("a local-mode agent's config has shadows off and the shadow service is not started", () => {
  const c = configSchema.parse({});
  equal(c.cloud.shadow.enabled, false);
  const f = LIBRARY_SERVICES.find((s) => s.name === "cloud.shadow")!;
  equal(f.enabled(c), false);
});

Deno.test("bad shadow config is refused with the key path", () => {
  const r = configSchema.safeParse({
    cloud: { shadow: { shadows: { bad: { name: "a/b" }, "x y": {} } } },
  });
  ok(!r.success);
  const paths = r.error.issues.map((i) => i.path.join("."));
  ok(paths.includes("cloud.shadow.shadows.bad.name"), paths.join(" "));
});

Deno.test("a shadow bound to an unknown model or field stops the agent at start, naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tern-shadow-cfg-" });
  try {
    for (
      const [model, want] of [
        [{ name: "Nope", key: { id: "main" } }, /cloud\.shadow: .*"Nope"/],
        [{ name: "Thermostat", key: { id: "main" }, fields: ["colour"] }, /no field "colour"/],
      ] as const
    ) {
      const config = configSchema.parse({
        agent: { mode: "cloud" },
        device: { id: "dev-1", thing: THING },
        schema: { models: THERMOSTAT_MODELS },
        mqtt: { enabled: true, url: "mqtt://127.0.0.1:9" },
        cloud: { shadow: { enabled: true, shadows: { thermostat: { model } } } },
      });
      let err: Error | undefined;
      try {
        const a = await Agent.start({
          loaded: { config, configDir: dir, stateDir: dir, files: [], secrets: [] },
          factories: LIBRARY_SERVICES,
        });
        await a.stop();
      } catch (e) {
        err = e as Error;
      }
      ok(err, "the agent did not start");
      ok(want.test(err.message), err.message);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
