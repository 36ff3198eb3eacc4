import assert from "node:assert/strict";
import { Agent, diffPaths, startOrder } from "./agent.ts";
import { FakeClock } from "./clock.ts";
import { defaultConfig, type LoadedConfig } from "./config/mod.ts";
import { LogHub, RingSink } from "./log/mod.ts";
import type { Service, ServiceContext, ServiceFactory } from "./service.ts";
import { databaseService } from "./db/mod.ts";
import { type AuditService, auditService } from "./cloud/audit/service.ts";

function loaded(stateDir: string): LoadedConfig {
  const config = defaultConfig();
  config.agent.restart = { min: 1000, max: 8000 };
  return { config, configDir: "/nonexistent", stateDir, files: [], secrets: [] };
}

/** A factory whose services record start/stop order in `events`. */
function recorder(
  name: string,
  events: string[],
  opts: { deps?: string[]; failStarts?: number; onCtx?: (c: ServiceContext) => void } = {},
): ServiceFactory {
  let starts = 0;
  return {
    name,
    deps: opts.deps ?? [],
    enabled: () => true,
    create(ctx): Service {
      opts.onCtx?.(ctx);
      return {
        start() {
          starts++;
          if (starts <= (opts.failStarts ?? 0)) {
            events.push(`${name}:fail`);
            return Promise.reject(new Error(`${name} start ${starts} failed`));
          }
          for (const d of opts.deps ?? []) ctx.get(d); // a dependency must be running
          events.push(`${name}:start`);
          return Promise.resolve();
        },
        [Symbol.asyncDispose]() {
          events.push(`${name}:stop`);
          return Promise.resolve();
        },
      };
    },
  };
}

async function agentWith(factories: ServiceFactory[], clock = new FakeClock(), random = () => 0.5) {
  const dir = await Deno.makeTempDir();
  const ring = new RingSink(100);
  const hub = new LogHub({ sinks: [ring] });
  const agent = await Agent.start({ loaded: loaded(dir), factories, clock, hub, ring, random });
  return { agent, ring, dir };
}

Deno.test("startOrder() puts dependencies first and rejects cycles", () => {
  const f = (name: string, deps: string[] = []): ServiceFactory => ({
    name,
    deps,
    enabled: () => true,
    create: () => ({}) as Service,
  });
  const order = startOrder([
    f("sync", ["mqtt", "database"]),
    f("web", ["database"]),
    f("mqtt", ["database"]),
    f("database"),
  ]);
  assert.deepEqual(order.map((x) => x.name), ["database", "mqtt", "sync", "web"]);
  assert.throws(() => startOrder([f("a", ["b"]), f("b", ["a"])]), /cycle: a → b → a/);
});

Deno.test("services start in dependency order and stop in reverse", async () => {
  const events: string[] = [];
  const { agent } = await agentWith([
    recorder("web", events, { deps: ["database"] }),
    recorder("sync", events, { deps: ["mqtt", "database"] }),
    recorder("mqtt", events, { deps: ["database"] }),
    recorder("database", events),
  ]);
  assert.deepEqual(agent.states().map((s) => [s.name, s.state]), [
    ["database", "running"],
    ["web", "running"],
    ["mqtt", "running"],
    ["sync", "running"],
  ]);
  assert.equal(await agent.stop(), true);
  assert.deepEqual(events, [
    "database:start",
    "web:start",
    "mqtt:start",
    "sync:start",
    "sync:stop",
    "mqtt:stop",
    "web:stop",
    "database:stop",
  ]);
  assert.ok(agent.states().every((s) => s.state === "stopped"));
});

Deno.test("a failing service is restarted with backoff while the others keep running", async () => {
  const events: string[] = [];
  const clock = new FakeClock();
  const { agent } = await agentWith(
    [recorder("database", events), recorder("mqtt", events, { failStarts: 2 })],
    clock,
    () => 0.5,
  );
  const mqtt = () => agent.states().find((s) => s.name === "mqtt")!;
  assert.equal(mqtt().state, "failed");
  assert.match(mqtt().lastError!, /mqtt start 1 failed/);
  assert.equal(agent.states()[0]!.state, "running");
  // First retry after 0.5 * min(8000, 1000 * 2^0) = 500 ms.
  await clock.advance(499);
  assert.deepEqual(events.filter((e) => e.startsWith("mqtt") && !e.endsWith("stop")), [
    "mqtt:fail",
  ]);
  await clock.advance(1);
  assert.deepEqual(events.filter((e) => e.startsWith("mqtt") && !e.endsWith("stop")), [
    "mqtt:fail",
    "mqtt:fail",
  ]);
  // Second retry after 0.5 * 2000 = 1000 ms.
  await clock.advance(999);
  assert.equal(mqtt().state, "failed");
  await clock.advance(1);
  assert.equal(mqtt().state, "running");
  assert.equal(mqtt().restarts, 2);
  await agent.stop();
});

Deno.test("ctx.fail() after start restarts the service and its dependents", async () => {
  const events: string[] = [];
  const clock = new FakeClock();
  let dbCtx: ServiceContext | undefined;
  const { agent } = await agentWith([
    recorder("database", events, { onCtx: (c) => dbCtx = c }),
    recorder("web", events, { deps: ["database"] }),
  ], clock);
  events.length = 0;
  dbCtx!.fail(new Error("disk gone"));
  await clock.advance(0);
  const states = Object.fromEntries(agent.states().map((s) => [s.name, s]));
  assert.equal(states.database!.state, "failed");
  assert.equal(states.database!.lastError, "disk gone");
  assert.equal(states.web!.state, "waiting");
  assert.deepEqual(events.sort(), ["database:stop", "web:stop"]);
  await clock.advance(1000);
  await clock.advance(0);
  assert.deepEqual(agent.states().map((s) => s.state), ["running", "running"]);
  assert.equal(agent.states()[1]!.restarts, 0, "a dependency stop is not a failure of web");
  await agent.stop();
});

Deno.test("reload() applies log levels live and reports what needs a restart", async () => {
  const { agent, ring } = await agentWith([]);
  const next = loaded(agent.loaded.stateDir);
  next.config.log.level = "warn";
  next.config.web.listen = ["http://127.0.0.1:9999"];
  const rest = await agent.reload(next);
  assert.deepEqual(rest, ["web.listen"]);
  const log = agent.hub.logger("x");
  log.info("hidden");
  log.warn("shown");
  assert.deepEqual(ring.entries({ source: "x" }).map((r) => r.msg), ["shown"]);
  await agent.stop();
});

Deno.test("diffPaths() lists changed leaves", () => {
  assert.deepEqual(diffPaths({ a: { b: 1, c: [1] }, d: 1 }, { a: { b: 2, c: [1] }, e: 1 }), [
    "a.b",
    "d",
    "e",
  ]);
});

Deno.test("the agent generates a device id once and keeps it in a 0700 state dir", async () => {
  const { agent, dir } = await agentWith([]);
  const id = agent.deviceId;
  assert.match(id, /^tern-[0-9a-f]{12}$/);
  assert.equal(Deno.statSync(dir).mode! & 0o777, 0o700);
  assert.equal(Deno.statSync(`${dir}/device-id`).mode! & 0o777, 0o600);
  await agent.stop();
  const again = await Agent.start({ loaded: loaded(dir), factories: [] });
  assert.equal(again.deviceId, id);
  await again.stop();
});

Deno.test("a permanent failure at start is not retried and fails the agent start", async () => {
  const events: string[] = [];
  const clock = new FakeClock();
  const broken: ServiceFactory = {
    name: "database",
    enabled: () => true,
    create: () => ({
      start: () => {
        events.push("database:start");
        return Promise.reject(
          Object.assign(new Error('Field "id" changed type'), { permanent: true }),
        );
      },
      [Symbol.asyncDispose]: () => Promise.resolve(),
    }),
  };
  await assert.rejects(
    agentWith([recorder("clock", events), broken], clock),
    /Field "id" changed type/,
  );
  await clock.advance(120_000);
  assert.deepEqual(events, ["clock:start", "database:start", "clock:stop"]);
});

Deno.test("states(false) leaves out each service's status(), and does not call it", async () => {
  let calls = 0;
  const counted: ServiceFactory = {
    name: "counted",
    enabled: () => true,
    create: () => ({
      start: () => Promise.resolve(),
      status: () => ({ calls: ++calls }),
      [Symbol.asyncDispose]: () => Promise.resolve(),
    }),
  };
  const { agent, dir } = await agentWith([counted]);
  try {
    const brief = agent.states(false);
    assert.deepEqual(brief.map((s) => [s.name, s.state, s.details]), [
      ["counted", "running", undefined],
    ]);
    assert.equal(calls, 0, "a health check costs no status() call");
    assert.deepEqual(agent.states()[0]!.details, { calls: 1 });
  } finally {
    await agent.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("agent.start and agent.crash are recorded once the audit service runs, when a dependency held it at start", async () => {
  const dir = await Deno.makeTempDir();
  const lifecycle = (a: Agent) =>
    a.get<AuditService>("audit").trail.log.list({ action: "agent." }).map((e) => e.action);
  const start = async () => {
    const clock = new FakeClock();
    // "aws" fails its first start: the audit service waits for it past Agent.start.
    const factories = [databaseService, recorder("aws", [], { failStarts: 1 }), auditService];
    const hub = new LogHub({ sinks: [] });
    const agent = await Agent.start({
      loaded: loaded(dir),
      factories,
      clock,
      hub,
      random: () => 0.5,
    });
    assert.notEqual(agent.states().find((s) => s.name === "audit")!.state, "running");
    await clock.advance(500);
    assert.equal(agent.states().find((s) => s.name === "audit")!.state, "running");
    return agent;
  };
  const first = await start();
  try {
    assert.deepEqual(lifecycle(first), ["agent.start"]);
    // A second agent on the same files while the first never stopped: as after a kill -9.
    const second = await start();
    try {
      assert.deepEqual(lifecycle(second), ["agent.start", "agent.crash", "agent.start"]);
    } finally {
      await second.stop();
    }
  } finally {
    await first.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("onService() runs device code's setup on each instance that runs: after a late start and after every restart", async () => {
  const events: string[] = [];
  const clock = new FakeClock();
  let dbCtx: ServiceContext | undefined;
  // The database fails its first start (a full disk): web waits for it, and is not running when
  // the agent has started, where device code registers its routes.
  const { agent, ring } = await agentWith([
    recorder("database", events, { failStarts: 1, onCtx: (c) => dbCtx = c }),
    recorder("web", events, { deps: ["database"] }),
  ], clock);
  assert.equal(agent.states()[1]!.state, "waiting");
  assert.throws(() => agent.get("web"), /not running/);
  const seen: Service[] = [];
  const stop = agent.onService("web", (web) => {
    seen.push(web);
    events.push("web:setup");
  });
  agent.onService("web", () => {
    throw new Error("device code bug");
  });
  assert.equal(seen.length, 0, "not before it runs");
  await clock.advance(500);
  await clock.advance(0);
  assert.equal(agent.states()[1]!.state, "running");
  assert.deepEqual(seen, [agent.get("web")], "once it runs, on its instance");
  // Right after it started, before anything else was told it runs.
  assert.deepEqual(events.slice(events.indexOf("web:start")), ["web:start", "web:setup"]);
  assert.ok(ring.entries().some((r) => r.msg === "A setup of the service failed"));
  // A restart (the database failed under it) builds a new instance: set up again, once.
  dbCtx!.fail(new Error("disk gone"));
  await clock.advance(2000);
  await clock.advance(0);
  assert.equal(agent.states()[1]!.state, "running");
  assert.equal(seen.length, 2);
  assert.notEqual(seen[1], seen[0]);
  assert.equal(seen[1], agent.get("web"));
  // Registered while it runs: at once. Stopped: not again.
  let late = 0;
  agent.onService("web", () => late++);
  assert.equal(late, 1);
  stop();
  dbCtx!.fail(new Error("disk gone again"));
  await clock.advance(8000);
  await clock.advance(0);
  assert.equal(agent.states()[1]!.state, "running");
  assert.equal(seen.length, 2, "a stopped setup does not run again");
  assert.equal(late, 2);
  await agent.stop();
});
