/**
 * Shadow sync rules against moto through the responder: offline changes on
 * both sides merged on reconnect (reported: device wins, desired: cloud
 * wins; coalesced into one update), a 409 resolved in one round and never
 * looping, version gaps re-read and older versions ignored, a shadow deleted
 * in the cloud, a broker restart mid-update.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { until } from "./helpers/wait.ts";
import { shadowWorld, skipShadowTests, THING } from "./shadow_helpers.ts";

const ignore = skipShadowTests(import.meta.url);
const SLOW = { ms: 10_000 };
const T = "thermostat";

Deno.test({
  name:
    "offline changes on both sides: reconnect sends one coalesced update; reported device wins, desired cloud wins",
  ignore,
  async fn() {
    await using w = await shadowWorld();
    let dev = await w.device({ [T]: {} });
    dev.shadows.get(T).update({ a: 1, b: 1 });
    await dev.shadows.get(T).synced(AbortSignal.timeout(10_000));
    await dev.stop();
    // Cloud, while the device is off: desired and a reported field change.
    await w.peer.cloudUpdate(THING, T, { desired: { setpoint: 22 }, reported: { b: 9, c: 7 } });
    // Device restarts offline: its last state is there; it changes reported three times.
    dev = await w.device({ [T]: {} }, { connect: false });
    const t = dev.shadows.get(T);
    deepEqual(t.get().reported, { a: 1, b: 1 });
    const handled: unknown[] = [];
    t.onDesired((d) => void handled.push(d));
    t.update({ a: 2 });
    t.update({ a: 3 });
    t.update({ b: 5 });
    await new Promise((r) => setTimeout(r, 100));
    const before = w.peer.received.length;
    dev.mqtt.start();
    await until(() => handled.length > 0, { ...SLOW, what: "the handler" });
    await t.synced(AbortSignal.timeout(10_000));
    const updates = w.peer.received.slice(before).filter((r) => r.op === "update");
    equal(updates.length, 1, "one coalesced update");
    deepEqual((updates[0]!.payload.state as Record<string, unknown>).reported, { a: 3, b: 5 });
    const doc = await w.peer.read(THING, T);
    deepEqual(doc?.state.reported, { a: 3, b: 5, c: 7 });
    deepEqual(doc?.state.desired, { setpoint: 22 });
    deepEqual(t.get().desired, { setpoint: 22 });
    deepEqual(t.get().reported, { a: 3, b: 5, c: 7 });
    deepEqual(handled[0], { setpoint: 22 });
    equal(t.get().version, doc!.version);
    await dev.stop();
  },
});

Deno.test({
  name:
    "a 409 is resolved by one get and a three-way merge; a cloud writer racing every update cannot make it loop",
  ignore,
  async fn() {
    let racing = false;
    let raced = 0;
    await using w = await shadowWorld({
      before: async (req) => {
        if (!racing || req.op !== "update" || req.payload.version === undefined) return;
        raced++;
        await w.peer.silentUpdate(THING, T, {
          desired: { mode: `eco-${raced}` },
          reported: { x: raced },
        });
      },
    });
    await using dev = await w.device({ [T]: {} });
    const t = dev.shadows.get(T);
    t.update({ x: 0, y: 0 });
    await t.synced(AbortSignal.timeout(10_000));
    racing = true;
    const before = w.peer.received.length;
    for (let i = 1; i <= 5; i++) {
      t.update({ y: i });
      await t.synced(AbortSignal.timeout(10_000));
    }
    racing = false;
    const reqs = w.peer.received.slice(before);
    const updates = reqs.filter((r) => r.op === "update");
    const st = t.status();
    ok(st.conflicts >= 1 && st.conflicts <= 5, `conflicts ${st.conflicts}`);
    ok(updates.length <= 10, `${updates.length} updates for 5 changes`);
    const doc = await w.peer.read(THING, T);
    equal(doc?.state.reported?.y, 5, "device wins for reported");
    deepEqual(doc?.state.desired, { mode: `eco-${raced}` }, "cloud wins for desired");
    deepEqual(t.get().desired, doc?.state.desired);
    deepEqual(t.get().reported, doc?.state.reported);
    equal(t.get().version, doc!.version);
    // Quiet afterwards: nothing more is sent.
    const n = w.peer.received.length;
    await new Promise((r) => setTimeout(r, 300));
    equal(w.peer.received.length, n);
  },
});

Deno.test({
  name: "a version gap triggers a full get; an older version is ignored",
  ignore,
  async fn() {
    await using w = await shadowWorld();
    await using dev = await w.device({ [T]: {} });
    const t = dev.shadows.get(T);
    t.update({ a: 1 });
    await t.synced(AbortSignal.timeout(10_000));
    await w.peer.drained(); // the echo on update/documents has been published
    await new Promise((r) => setTimeout(r, 50));
    const v = t.get().version;
    // The cloud moves on twice, but the device only hears of the second one.
    await w.peer.silentUpdate(THING, T, { desired: { level: 1 } });
    await w.peer.silentUpdate(THING, T, { desired: { level: 2 } });
    const gets = () => w.peer.received.filter((r) => r.op === "get").length;
    const g0 = gets();
    await w.peer.publish(`$aws/things/${THING}/shadow/name/${T}/update/delta`, {
      version: v + 2,
      timestamp: 1,
      state: { level: 2 },
    });
    await until(() => t.get().version === v + 2 && gets() > g0, {
      ...SLOW,
      what: () => `a get (v ${v}, now ${JSON.stringify(t.status())}, gets ${gets()} from ${g0})`,
    });
    equal(t.status().gaps, 1);
    deepEqual(t.get().desired, { level: 2 });
    // An older document is ignored.
    await w.peer.publish(`$aws/things/${THING}/shadow/name/${T}/update/documents`, {
      previous: null,
      current: { state: { desired: { level: 99 } }, version: v, metadata: {} },
      timestamp: 1,
    });
    await w.peer.publish(`$aws/things/${THING}/shadow/name/${T}/update/delta`, "not json {");
    await new Promise((r) => setTimeout(r, 200));
    deepEqual(t.get().desired, { level: 2 });
    equal(t.get().version, v + 2);
  },
});

Deno.test({
  name:
    "a shadow deleted in the cloud clears the local copy, or is recreated when the config says so",
  ignore,
  async fn() {
    await using w = await shadowWorld();
    await using dev = await w.device({ keep: {}, again: { recreate: true } });
    const keep = dev.shadows.get("keep"), again = dev.shadows.get("again");
    keep.update({ a: 1 });
    again.update({ b: 2 });
    await keep.synced(AbortSignal.timeout(10_000));
    await again.synced(AbortSignal.timeout(10_000));
    await w.peer.cloudDelete(THING, "keep");
    await w.peer.cloudDelete(THING, "again");
    await until(async () => (await w.peer.read(THING, "again"))?.state.reported?.b === 2, {
      ...SLOW,
      what: "the recreated shadow",
    });
    await until(() => Object.keys(keep.get().reported).length === 0, SLOW);
    equal(await w.peer.read(THING, "keep"), undefined);
    equal(keep.status().exists, false);
  },
});

Deno.test({
  name: "broker restart mid-update: the device retries and converges with moto's document",
  ignore,
  async fn() {
    await using w = await shadowWorld({ delay: 300 });
    await using dev = await w.device({ [T]: {} });
    const t = dev.shadows.get(T);
    t.update({ n: 1 });
    await until(() => w.peer.received.some((r) => r.op === "update"), SLOW);
    await w.broker.stop();
    t.update({ n: 2, m: "x" });
    await new Promise((r) => setTimeout(r, 200));
    await w.broker.start();
    await t.synced(AbortSignal.timeout(20_000));
    await w.peer.drained();
    const doc = await w.peer.read(THING, T);
    deepEqual(doc?.state.reported, { n: 2, m: "x" });
    deepEqual(t.get().reported, doc?.state.reported);
    equal(t.get().version, doc!.version);
  },
});

Deno.test({
  name:
    "periodic sync sends once per interval; deviceToCloud ignores desired; cloudToDevice never sends reported",
  ignore,
  async fn() {
    await using w = await shadowWorld();
    await using dev = await w.device({
      tick: { sync: { mode: "periodic", interval: 400 } },
      up: { direction: "deviceToCloud" },
      down: { direction: "cloudToDevice" },
    });
    const updates = (name: string) =>
      w.peer.received.filter((r) => r.op === "update" && r.shadow === name);
    // periodic: three quick changes, one update at the next tick
    const tick = dev.shadows.get("tick");
    await until(() => w.peer.received.some((r) => r.op === "get" && r.shadow === "tick"));
    tick.update({ a: 1 });
    tick.update({ a: 2 });
    tick.update({ b: 1 });
    await tick.synced(AbortSignal.timeout(10_000));
    equal(updates("tick").length, 1);
    deepEqual((updates("tick")[0]!.payload.state as Record<string, unknown>).reported, {
      a: 2,
      b: 1,
    });
    // deviceToCloud: reported goes up, a desired change calls nobody and is not taken
    const up = dev.shadows.get("up");
    const upSeen: unknown[] = [];
    up.onDesired((d) => void upSeen.push(d));
    up.update({ level: 1 });
    await up.synced(AbortSignal.timeout(10_000));
    await w.peer.cloudUpdate(THING, "up", { desired: { level: 5 } });
    await new Promise((r) => setTimeout(r, 300));
    deepEqual(upSeen, []);
    deepEqual(up.get().desired, {});
    up.update({ level: 2 });
    await up.synced(AbortSignal.timeout(10_000));
    deepEqual((await w.peer.read(THING, "up"))?.state.reported, { level: 2 });
    deepEqual((await w.peer.read(THING, "up"))?.state.desired, { level: 5 }, "desired left alone");
    ok(updates("up").every((r) => !("desired" in (r.payload.state as Record<string, unknown>))));
    // cloudToDevice: desired reaches the handler; its answer stays local
    const down = dev.shadows.get("down");
    const downSeen: unknown[] = [];
    down.onDesired((d) => {
      downSeen.push(d);
      return d;
    });
    await w.peer.cloudUpdate(THING, "down", { desired: { mode: "eco" } });
    await until(() => downSeen.length === 1, SLOW);
    await new Promise((r) => setTimeout(r, 300));
    deepEqual(down.get().reported, { mode: "eco" });
    equal(updates("down").length, 0);
    equal((await w.peer.read(THING, "down"))?.state.reported, undefined);
  },
});
