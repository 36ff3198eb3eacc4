/**
 * The "sync" service under the real Agent (loaded lazily from
 * lib/services.ts), with dynalite and an in-process MQTT broker: a local
 * write goes up `upDelay` after it happens, and a notification on the
 * device's sync topic brings a cloud change down at once, without waiting
 * for `downInterval`. The status reaches the agent's service states.
 */

import assert from "node:assert/strict";
import { Agent } from "../lib/agent.ts";
import { FakeClock } from "../lib/clock.ts";
import { configSchema } from "../lib/config/mod.ts";
import type { DatabaseService } from "../lib/db/mod.ts";
import { LogHub, RingSink } from "../lib/log/mod.ts";
import { SERVICES } from "../services.ts";
import { startAedes } from "./helpers/aedes.ts";
import { scanTable } from "./helpers/dynalite.ts";
import { until } from "./helpers/wait.ts";
import { cloudPut, notice, SCHEMA, T0, TABLE, TEST_CREDENTIALS } from "./sync_helpers.ts";
import { type SyncCloud, syncCloud } from "./sync_setup.ts";

/** The real Agent for device d1 on `s`'s dynalite, with `sections` (sync, mqtt) added to its config. */
async function startAgent(s: SyncCloud, sections: Record<string, unknown>) {
  const config = configSchema.parse({
    device: { id: "d1" },
    aws: { region: "eu-west-1", credentials: TEST_CREDENTIALS },
    schema: { models: SCHEMA },
    ...sections,
  });
  const clock = new FakeClock(T0);
  const ring = new RingSink(200);
  const agent = await Agent.start({
    loaded: { config, configDir: s.dir, stateDir: s.dir, files: [], secrets: [] },
    factories: SERVICES,
    clock,
    hub: new LogHub({ sinks: [ring] }),
    ring,
  });
  return { agent, clock, ring };
}

const NOTICE = notice({ target: "d1", id: "n1", text: "hello", at: T0 });

Deno.test("the sync service sends changes after upDelay and reads down on an MQTT nudge", async () => {
  await using s = await syncCloud();
  const { ddb, cloud } = s;
  await using broker = await startAedes();
  const { agent, clock } = await startAgent(s, {
    mqtt: { enabled: true, url: broker.url },
    sync: { enabled: true, endpoint: ddb.endpoint, table: TABLE, downInterval: 600_000 },
  });
  try {
    const states = () => Object.fromEntries(agent.states().map((s) => [s.name, s]));
    assert.equal(states().sync?.state, "running", JSON.stringify(states().sync));
    const db = agent.get<DatabaseService>("database").db;
    db.create("Reading", { deviceId: "d1", time: "2026-01-01T00:00:00Z", value: 7 });
    // Nothing is sent before upDelay (1 s of fake time) has passed.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await scanTable(cloud, TABLE)).length, 0);
    await until(async () => (await scanTable(cloud, TABLE)).length === 1, {
      what: "the reading in the table",
      ms: 10_000,
      step: () => clock.advance(500),
    });
    // A cloud application writes a notice and notifies the device.
    await cloudPut(cloud, NOTICE);
    await until(() => {
      broker.broker.publish(
        {
          cmd: "publish",
          topic: "tern/d1/sync",
          payload: Buffer.from("{}"),
          qos: 0,
          retain: false,
          dup: false,
        },
        () => {},
      );
      return db.get("Notice", { target: "d1", id: "n1" }) !== undefined;
    }, {
      what: "the notice on the device",
      ms: 10_000,
      step: () => new Promise((r) => setTimeout(r, 50)),
    });
    const details = states().sync?.details as { backlog: number; up: { lastSuccess?: string } };
    assert.equal(details.backlog, 0);
    assert.ok(details.up.lastSuccess);
  } finally {
    await agent[Symbol.asyncDispose]();
  }
});

Deno.test("without MQTT, sync polls on downInterval and backs off through an outage", async () => {
  await using s = await syncCloud();
  const { ddb, cloud } = s;
  const { agent, clock, ring } = await startAgent(s, {
    sync: {
      enabled: true,
      endpoint: ddb.endpoint,
      table: TABLE,
      downInterval: 60_000,
      backoff: { min: 1000, max: 8000 },
    },
  });
  try {
    const db = agent.get<DatabaseService>("database").db;
    assert.ok(agent.states().some((s) => s.name === "sync" && s.state === "running"));
    assert.ok(!agent.states().some((s) => s.name === "mqtt"));
    await cloudPut(cloud, NOTICE);
    await until(() => db.get("Notice", { target: "d1", id: "n1" }) !== undefined, {
      what: "the notice after downInterval",
      ms: 10_000,
      step: () => clock.advance(5_000),
    });
    // Outage: the write waits, the error is reported, and it goes up once the endpoint is back.
    await ddb.stop();
    db.create("Reading", { deviceId: "d1", time: "2026-01-01T00:00:00Z", value: 1 });
    const status = () =>
      agent.states().find((s) => s.name === "sync")!.details as {
        backlog: number;
        up: { lastError?: { message: string } };
      };
    await until(() => status().up.lastError !== undefined, {
      what: "an up error",
      ms: 10_000,
      step: () => clock.advance(500),
    });
    assert.equal(status().backlog, 1);
    assert.ok(ring.entries().some((r) => /Sync up failed; retrying in \d+ ms/.test(r.msg)));
    await ddb.start();
    await until(() => status().backlog === 0, {
      what: "the backlog sent",
      ms: 10_000,
      step: () => clock.advance(1000),
    });
    assert.equal((await scanTable(ddb.client(), TABLE)).length, 2);
  } finally {
    await agent[Symbol.asyncDispose]();
  }
});
