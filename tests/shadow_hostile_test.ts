/**
 * A shadow under hostile cloud input: with a real agent (database, mqtt, a
 * shadow bound to a model) in sync with moto through mosquitto, another
 * client publishes 400 broken messages (seeded) on every reply topic of the
 * shadow: bytes that are not UTF-8 or not JSON, JSON that is not an object,
 * documents and deltas whose version is not a positive safe integer or is
 * older than the device's, a version gap, replies to requests the device
 * never made, 200 KB payloads. None may change the item, the device's copy of
 * the shadow or moto's document, and the agent keeps running: afterwards a
 * real desired change from the cloud still reaches the item and is reported.
 *
 * `TERN_FUZZ_SEED=N` replays a run.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import mqtt from "mqtt";
import type { DatabaseService } from "../lib/db/mod.ts";
import type { ShadowService } from "../lib/cloud/shadow/mod.ts";
import { seeded } from "./helpers/seeded.ts";
import { until } from "./helpers/wait.ts";
import { boundShadowAgent, shadowWorld, skipShadowTests, THING } from "./shadow_helpers.ts";

const ignore = skipShadowTests(import.meta.url);
const MESSAGES = 400;

Deno.test({
  name:
    "400 broken messages on a shadow's reply topics change nothing, and the shadow keeps syncing",
  ignore,
  async fn() {
    const { seed, rnd, pick } = seeded();
    await using w = await shadowWorld();
    const agent = await boundShadowAgent(w);
    const cloud = await mqtt.connectAsync(w.broker.url, {
      reconnectPeriod: 0,
      clientId: "hostile-cloud",
    });
    try {
      const db = agent.get<DatabaseService>("database").db;
      const shadow = agent.get<ShadowService>("cloud.shadow").get("thermostat");
      db.put("Thermostat", { id: "main", setpoint: 19, temperature: 20.5 });
      await until(
        async () => (await w.peer.read(THING, "thermostat"))?.state.reported?.temperature === 20.5,
        { ms: 10_000, what: "reported temperature in moto" },
      );
      await shadow.synced(AbortSignal.timeout(5_000));
      const version = shadow.get().version;
      ok(version >= 1, `a version after the first sync: ${version}`);
      const before = {
        item: db.get("Thermostat", { id: "main" }),
        doc: shadow.get(),
        cloud: await w.peer.read(THING, "thermostat"),
      };

      const base = `$aws/things/${THING}/shadow/name/thermostat`;
      const badVersion = () =>
        pick<unknown>([
          "x",
          -1,
          0,
          1.5,
          2 ** 60,
          null,
          [],
          {},
          ...(version > 1 ? [version - 1] : []),
        ]);
      const state = () =>
        pick<unknown>([
          { desired: { setpoint: 99 } },
          { desired: "x" },
          [],
          "x",
          { reported: { temperature: -40 } },
          { desired: { setpoint: { deep: { er: [1, 2, 3] } } } },
        ]);
      const bytes = (n: number) => {
        const b = new Uint8Array(n);
        for (let i = 0; i < n; i++) b[i] = Math.floor(rnd() * 256);
        return b;
      };
      // [topic suffix, payload]: nothing here is a message the cloud may send to change the shadow.
      const broken = (): [string, string | Uint8Array] => {
        const junk = pick<() => string | Uint8Array>([
          () => bytes(1 + Math.floor(rnd() * 64)),
          () => new Uint8Array([0xff, 0xfe, 0x7b, 0x7d]), // not UTF-8
          () => "{not json",
          () => "",
          () => pick(["null", "[]", "42", '"x"', "true"]),
          () => "x".repeat(200_000),
          () => `{"a":${"[".repeat(3000)}`,
        ]);
        const r = rnd();
        if (r < 0.3) {
          return [
            pick(["update/delta", "update/documents", "get/accepted", "delete/accepted"]),
            junk(),
          ];
        }
        if (r < 0.5) {
          return ["update/delta", JSON.stringify({ version: badVersion(), state: state() })];
        }
        if (r < 0.7) {
          const current = pick<unknown>([5, "x", null, { version: badVersion(), state: state() }]);
          return ["update/documents", JSON.stringify({ current, previous: {}, clientToken: "x" })];
        }
        if (r < 0.8) {
          // A gap: the device reads the whole shadow again (moto's, unchanged).
          return ["update/delta", JSON.stringify({ version: version + 1000, state: state() })];
        }
        // A reply to a request the device never made.
        return [
          pick([
            "get/accepted",
            "get/rejected",
            "update/accepted",
            "update/rejected",
            "delete/rejected",
          ]),
          JSON.stringify({
            clientToken: pick([crypto.randomUUID(), "", 5, null]),
            version: badVersion(),
            state: state(),
            code: pick([404, 409, 500, "x"]),
          }),
        ];
      };
      for (let i = 0; i < MESSAGES; i++) {
        const [suffix, payload] = broken();
        await cloud.publishAsync(`${base}/${suffix}`, payload as string, { qos: 1 });
      }
      // The last message sent after them all is read once every one before it was.
      await cloud.publishAsync(`${base}/update/delta`, "{not json", { qos: 1 });
      await new Promise((r) => setTimeout(r, 500));
      await shadow.synced(AbortSignal.timeout(10_000));

      const msg = `seed ${seed} (TERN_FUZZ_SEED)`;
      deepEqual(db.get("Thermostat", { id: "main" }), before.item, `${msg}: the item`);
      const doc = shadow.get();
      deepEqual(
        [doc.desired, doc.reported, doc.version],
        [before.doc.desired, before.doc.reported, before.doc.version],
        `${msg}: the device's copy`,
      );
      deepEqual(await w.peer.read(THING, "thermostat"), before.cloud, `${msg}: moto's document`);
      for (const s of ["mqtt", "cloud.shadow", "database"]) {
        equal(agent.states().find((x) => x.name === s)?.state, "running", `${msg}: ${s}`);
      }

      // And the shadow still works: a real desired change reaches the item and is reported.
      await w.peer.cloudUpdate(THING, "thermostat", { desired: { setpoint: 23 } });
      await until(() => db.get("Thermostat", { id: "main" })?.setpoint === 23, {
        ms: 10_000,
        what: "the cloud's setpoint written to the item",
      });
      await until(
        async () => (await w.peer.read(THING, "thermostat"))?.state.reported?.setpoint === 23,
        { ms: 10_000, what: "setpoint 23 reported to moto" },
      );
    } finally {
      await cloud.endAsync();
      await agent.stop();
    }
  },
});
