/**
 * `/api/health` follows the agent's services: its answer is built from the states once and
 * again after every state change the agent reports (a service failing, running again), with a
 * real `Agent` supervising a real service and the web app built as the web service builds it.
 */

import assert from "node:assert/strict";
import { Agent } from "../lib/agent.ts";
import { FakeClock } from "../lib/clock.ts";
import { configSchema, type LoadedConfig } from "../lib/config/mod.ts";
import { LogHub, nullLogger, RingSink } from "../lib/log/mod.ts";
import type { ServiceContext, ServiceFactory } from "../lib/service.ts";
import { buildApp } from "../routes/web_service.ts";

Deno.test("/api/health answers 503 once a service fails and 200 once it runs again", async () => {
  const dir = await Deno.makeTempDir();
  const clock = new FakeClock();
  let ctx: ServiceContext | undefined;
  const sensor: ServiceFactory = {
    name: "sensor",
    enabled: () => true,
    create(c) {
      ctx = c;
      return { start: () => Promise.resolve(), [Symbol.asyncDispose]: () => Promise.resolve() };
    },
  };
  const config = configSchema.parse({ database: { enabled: false }, web: { enabled: false } });
  config.agent.restart = { min: 1000, max: 1000 };
  const loaded: LoadedConfig = { config, configDir: dir, stateDir: dir, files: [], secrets: [] };
  const ring = new RingSink(100);
  await using agent = await Agent.start({
    loaded,
    factories: [sensor],
    clock,
    hub: new LogHub({ sinks: [ring] }),
    ring,
    random: () => 1,
  });
  const { app, deps } = buildApp(config, {
    log: nullLogger,
    clock,
    status: { services: (d) => agent.states(d), changes: (l) => agent.onStates(l) },
  });
  const health = async () => {
    const r = await app.request(new Request("http://x/api/health"));
    assert.equal(r.headers.get("content-type"), "application/json");
    return { status: r.status, body: await r.json() };
  };
  try {
    assert.deepEqual(await health(), {
      status: 200,
      body: { ok: true, services: 1, failing: [] },
    });
    assert.deepEqual(await health(), { status: 200, body: { ok: true, services: 1, failing: [] } });
    ctx!.fail(new Error("sensor unplugged"));
    await until(() => agent.states(false)[0]!.state !== "running");
    const down = await health();
    assert.equal(down.status, 503);
    assert.equal(down.body.ok, false);
    assert.equal(down.body.failing[0].name, "sensor");
    assert.notEqual(down.body.failing[0].state, "running");
    assert.doesNotMatch(JSON.stringify(down.body), /unplugged/, "no error texts for anyone");
    await clock.advance(1000); // the restart backoff
    await until(() => agent.states(false)[0]!.state === "running");
    assert.deepEqual(await health(), { status: 200, body: { ok: true, services: 1, failing: [] } });
  } finally {
    for (const c of deps.closers?.splice(0) ?? []) c();
    await Deno.remove(dir, { recursive: true });
  }
});

async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(ok(), "the state changed");
}
