/**
 * CloudWatch Logs end to end: the real Agent with the "cloud.logs" service
 * (loaded lazily from lib/services.ts) sends the agent's own log, the app's
 * `write()` events and a followed file through the SigV4-verifying endpoint
 * to moto. Asserted in moto (GetLogEvents, DescribeLogGroups): each event has
 * its own timestamp, arrives once, in order, in the right group and stream;
 * the group was created with its retention; secrets never left the device.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Agent } from "../lib/agent.ts";
import type { CloudLogsService } from "../lib/cloud/logs/mod.ts";
import { configSchema } from "../lib/config/mod.ts";
import { LogHub, RingSink } from "../lib/log/mod.ts";
import { LIBRARY_SERVICES } from "../lib/services.ts";
import { cloudLogsConfig, getLogEvents, startLogsEndpoint, startMoto } from "./helpers/moto.ts";
import { until } from "./helpers/wait.ts";
import { makeTlsFixtures } from "./helpers/tls.ts";
import { installIdentity } from "../lib/cloud/provision/mod.ts";

const iso = (t: number) => new Date(t).toISOString();

async function startAgent(dir: string, endpoint: string, logs: Record<string, unknown> = {}) {
  const config = cloudLogsConfig(endpoint, {
    retentionDays: 7,
    flushInterval: 20,
    confirmDelay: 0,
    backoff: { min: 10, max: 200 },
    files: [{ path: join(dir, "app", "*.log"), linger: 100, poll: 250 }],
    ...logs,
  });
  const ring = new RingSink(500);
  const hub = new LogHub({ sinks: [ring] });
  const agent = await Agent.start({
    loaded: { config, configDir: dir, stateDir: dir, files: [], secrets: ["hunter2-secret-pw"] },
    factories: LIBRARY_SERVICES,
    hub,
    ring,
  });
  return { agent, ring };
}

Deno.test("agent, app and file events reach CloudWatch once, with their own times, in their streams", async () => {
  await using moto = await startMoto();
  await using ep = await startLogsEndpoint(moto);
  const dir = await Deno.makeTempDir({ prefix: "tern_cloud_logs_" });
  await Deno.mkdir(join(dir, "app"));
  const t0 = Date.now() - 60_000;
  // Line 3 holds a secret of the config: it leaves the device redacted.
  const fileLines = Array.from(
    { length: 5 },
    (_, i) => `${iso(t0 + i * 1000)} file line ${i}${i === 3 ? " pw hunter2-secret-pw" : ""}`,
  );
  await Deno.writeTextFile(join(dir, "app", "pump.log"), fileLines.join("\n") + "\n");
  const { agent } = await startAgent(dir, ep.url);
  try {
    const logs = agent.get<CloudLogsService>("cloud.logs");
    logs.write("pump", "pump started", { time: t0 + 500 });
    logs.write("pump", { rpm: 1200, password: "hunter2-secret-pw", note: "pw hunter2-secret-pw" }, {
      time: t0 + 1500,
    });
    agent.log.info("hello cloud", { token: "tok-should-not-leave" });
    // Bad input: a clear error, nothing stored.
    assert.throws(() => logs.write("bad name!", "x"), /not valid/);
    assert.throws(() => logs.write("pump", 42 as unknown as string), /string or an object/);

    const group = "/tern/d1";
    await until(
      async () => (await getLogEvents(moto, group, "d1/pump.log").catch(() => [])).length === 5,
      {
        ms: 15_000,
        what: "the file's lines in moto",
      },
    );
    const file = await getLogEvents(moto, group, "d1/pump.log");
    assert.deepEqual(
      file.map((e) => e.message),
      fileLines.map((l) => l.replace("hunter2-secret-pw", "[redacted]")),
    );
    assert.deepEqual(file.map((e) => e.timestamp), fileLines.map((_, i) => t0 + i * 1000));

    await until(
      async () => (await getLogEvents(moto, group, "d1/app/pump").catch(() => [])).length === 2,
      {
        ms: 15_000,
        what: "the app events in moto",
      },
    );
    const app = await getLogEvents(moto, group, "d1/app/pump");
    assert.deepEqual(app.map((e) => e.timestamp), [t0 + 500, t0 + 1500]);
    assert.equal(app[0]!.message, "pump started");
    const obj = JSON.parse(app[1]!.message);
    assert.equal(obj.rpm, 1200);
    assert.equal(obj.password, "[redacted]");
    assert.equal(obj.note, "pw [redacted]");

    await until(
      async () =>
        (await getLogEvents(moto, group, "d1/agent").catch(() => [])).some((e) =>
          e.message.includes("hello cloud")
        ),
      { ms: 15_000, what: "the agent's line in moto" },
    );
    const agentEvents = await getLogEvents(moto, group, "d1/agent");
    const hello = agentEvents.find((e) => e.message.includes("hello cloud"))!;
    const rec = JSON.parse(hello.message);
    assert.equal(rec.level, "info");
    assert.equal(rec.source, "agent");
    assert.equal(rec.token, "[redacted]");
    assert.equal(Date.parse(rec.time), hello.timestamp, "the record's own time");
    for (const e of [...agentEvents, ...app, ...file]) {
      assert.ok(!e.message.includes("hunter2-secret-pw"), "a secret left the device");
      assert.ok(!e.message.includes("tok-should-not-leave"), "a token left the device");
    }
    // The group was created with its retention; every request was signed correctly.
    const groups = await moto.logs<
      { logGroups: { logGroupName: string; retentionInDays?: number }[] }
    >(
      "DescribeLogGroups",
      {},
    );
    assert.deepEqual(groups.logGroups.map((g) => [g.logGroupName, g.retentionInDays]), [[
      group,
      7,
    ]]);
    assert.equal(ep.rejected, 0);
    // Spool status: nothing waiting, counters moved.
    const status = logs.status() as { spool: { name: string; backlog: number; sent: number }[] };
    const byName = Object.fromEntries(status.spool.map((s) => [s.name, s]));
    assert.equal(byName["logs.file.0"]!.sent, 5);
    assert.equal(byName["logs.app"]!.sent, 2);
    await until(() => logs.streams().every((s) => s.backlog === 0), { what: "an empty spool" });
    // A second line appended later goes after the first, once.
    await Deno.writeTextFile(join(dir, "app", "pump.log"), `${iso(t0 + 9000)} file line 5\n`, {
      append: true,
    });
    await until(async () => (await getLogEvents(moto, group, "d1/pump.log")).length === 6, {
      ms: 15_000,
      what: "the appended line",
    });
    assert.equal(
      (await getLogEvents(moto, group, "d1/pump.log")).at(-1)!.message,
      `${iso(t0 + 9000)} file line 5`,
    );
  } finally {
    await agent.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cloud.logs without credentials or a region fails at start with a clear message", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tern_cloud_logs_" });
  try {
    const config = configSchema.parse({
      agent: { mode: "cloud" },
      device: { id: "d1" },
      cloud: { logs: { enabled: true, endpoint: "http://127.0.0.1:9" } },
    });
    await assert.rejects(
      Agent.start({
        loaded: { config, configDir: dir, stateDir: dir, files: [], secrets: [] },
        factories: LIBRARY_SERVICES,
        hub: new LogHub({ sinks: [] }),
      }),
      /cloud\.logs needs a region/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a provisioned device names its log groups and streams after the thing its identity is", async () => {
  await using moto = await startMoto();
  await using ep = await startLogsEndpoint(moto);
  await using tls = await makeTlsFixtures();
  const dir = await Deno.makeTempDir({ prefix: "tern_cloud_logs_thing_" });
  await Deno.mkdir(join(dir, "app"));
  // The identity provisioning left in the state dir: thing "pump-0042", not the device id "d1".
  await installIdentity({
    dir: join(dir, "identity"),
    certPem: tls.clientCert,
    keyPem: tls.clientKey,
    thing: "pump-0042",
    now: Date.now(),
  });
  const base = cloudLogsConfig(ep.url, {
    flushInterval: 20,
    files: [{ path: join(dir, "app", "*.log"), linger: 100, poll: 250 }],
  });
  const config = configSchema.parse({ ...base, provision: { enabled: true } });
  const line = `${new Date().toISOString()} started`;
  await Deno.writeTextFile(join(dir, "app", "pump.log"), line + "\n");
  const agent = await Agent.start({
    loaded: { config, configDir: dir, stateDir: dir, files: [], secrets: [] },
    factories: LIBRARY_SERVICES,
    hub: new LogHub({ sinks: [] }),
  });
  try {
    await until(
      async () =>
        (await getLogEvents(moto, "/tern/pump-0042", "pump-0042/pump.log").catch(() => []))
          .length === 1,
      { ms: 15_000, what: "the line in the thing's stream" },
    );
    const events = await getLogEvents(moto, "/tern/pump-0042", "pump-0042/pump.log");
    assert.deepEqual(events.map((e) => e.message), [line]);
    await assert.rejects(getLogEvents(moto, "/tern/d1", "d1/pump.log"));
  } finally {
    await agent.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
