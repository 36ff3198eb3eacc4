/**
 * Device Shadows end to end: the device's MqttClient and shadows against
 * mosquitto and the shadow responder, which keeps the documents in moto's
 * IoT data plane (tests/helpers/shadow_peer.ts). Assertions read moto's
 * document, the requests on the broker and the `_shadow` rows in SQLite.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { until } from "./helpers/wait.ts";
import { shadowWorld, skipShadowTests, THING } from "./shadow_helpers.ts";

const ignore = skipShadowTests(import.meta.url);
const SLOW = { ms: 10_000 };

Deno.test({
  name: "a device update reaches moto's document, versioned, with a clientToken on every request",
  ignore,
  async fn() {
    await using w = await shadowWorld();
    await using dev = await w.device({ thermostat: {} });
    const t = dev.shadows.get("thermostat");
    t.update({ temperature: 20.5, mode: "heat" });
    await t.synced(AbortSignal.timeout(10_000));
    const doc = await w.peer.read(THING, "thermostat");
    deepEqual(doc?.state.reported, { temperature: 20.5, mode: "heat" });
    equal(t.get().version, doc!.version);
    const updates = w.peer.received.filter((r) => r.op === "update");
    ok(updates.length >= 1);
    for (const r of w.peer.received) {
      ok(typeof r.payload.clientToken === "string", "every request has a clientToken");
      ok(new TextEncoder().encode(r.payload.clientToken as string).length <= 64);
      ok(r.topic.startsWith(`$aws/things/${THING}/shadow/name/thermostat/`));
    }
    const row = dev.db.prepare("SELECT reported, version FROM _shadow WHERE name = ?").get(
      "thermostat",
    ) as { reported: string; version: number };
    deepEqual(JSON.parse(row.reported), { temperature: 20.5, mode: "heat" });
    equal(row.version, doc!.version);
  },
});

Deno.test({
  name:
    "cloud desired reaches the handler and its answer comes back as reported; null deletes both ways",
  ignore,
  async fn() {
    await using w = await shadowWorld();
    await using dev = await w.device({ thermostat: {} });
    const t = dev.shadows.get("thermostat");
    const seen: unknown[] = [];
    t.onDesired((d) => {
      seen.push(d);
      return d;
    });
    t.update({ setpoint: 18, fan: "auto" });
    await t.synced(AbortSignal.timeout(10_000));
    await w.peer.cloudUpdate(THING, "thermostat", { desired: { setpoint: 21.5 } });
    await until(
      async () => (await w.peer.read(THING, "thermostat"))?.state.reported?.setpoint === 21.5,
      {
        ...SLOW,
        what: "reported setpoint 21.5 in moto",
      },
    );
    deepEqual(seen[0], { setpoint: 21.5 });
    const doc = await w.peer.read(THING, "thermostat");
    equal(doc?.state.delta, undefined, "no delta left");
    ok(t.status().echoes >= 1, "its own update/documents echoes were recognised");
    // The device changing reported away from desired calls no handler (AWS sends no delta then).
    t.update({ setpoint: 17 });
    await t.synced(AbortSignal.timeout(10_000));
    await w.peer.drained();
    await new Promise((r) => setTimeout(r, 100));
    equal(seen.length, 1);
    deepEqual((await w.peer.read(THING, "thermostat"))?.state.delta, { setpoint: 21.5 });
    t.update({ setpoint: 21.5 });
    // null deletes a field: device side → cloud
    t.update({ fan: null });
    await t.synced(AbortSignal.timeout(10_000));
    await until(async () => {
      const r = (await w.peer.read(THING, "thermostat"))?.state.reported ?? {};
      return !("fan" in r);
    }, { ...SLOW, what: "fan removed in moto" });
    // cloud side → device: desired null removes the local desired field
    await w.peer.cloudUpdate(THING, "thermostat", { desired: { setpoint: null } });
    await until(() => !("setpoint" in t.get().desired), { ...SLOW, what: "local desired cleared" });
    deepEqual(t.get().reported, { setpoint: 21.5 });
    equal(seen.length, 1);
  },
});

Deno.test({
  name: "named and classic shadows side by side keep separate documents in moto",
  ignore,
  async fn() {
    await using w = await shadowWorld();
    await using dev = await w.device({ device: { classic: true }, thermostat: {}, pump: {} });
    dev.shadows.get("device").update({ fw: "1.2.3" });
    dev.shadows.get("thermostat").update({ t: 20 });
    dev.shadows.get("pump").update({ rpm: 1200 });
    for (const n of ["device", "thermostat", "pump"]) {
      await dev.shadows.get(n).synced(AbortSignal.timeout(10_000));
    }
    deepEqual((await w.peer.read(THING))?.state.reported, { fw: "1.2.3" });
    deepEqual((await w.peer.read(THING, "thermostat"))?.state.reported, { t: 20 });
    deepEqual((await w.peer.read(THING, "pump"))?.state.reported, { rpm: 1200 });
    ok(w.peer.received.some((r) => r.topic === `$aws/things/${THING}/shadow/update`));
  },
});
