/**
 * Shadow limits at and past their edges (8 KB state, depth 6, names,
 * clientToken, 10 requests in flight) and every rejection code the service
 * answers with, against moto through the responder.
 */

import { deepEqual, equal, ok, throws } from "node:assert/strict";
import {
  SHADOW_LIMITS,
  ShadowLimitError,
  shadowTopics,
  stateBytes,
} from "../lib/cloud/shadow/mod.ts";
import { until } from "./helpers/wait.ts";
import { shadowWorld, skipShadowTests, THING } from "./shadow_helpers.ts";

const ignore = skipShadowTests(import.meta.url);
const T = "thermostat";

/** A reported state of exactly `n` bytes as `{"reported":{...}}`. */
function ofBytes(n: number): Record<string, unknown> {
  const empty = stateBytes({}, { s: "" });
  return { s: "x".repeat(n - empty) };
}

function nested(levels: number): Record<string, unknown> {
  let v: Record<string, unknown> = { leaf: 1 };
  for (let i = 1; i < levels; i++) v = { n: v };
  return v;
}

Deno.test({
  name:
    "state of 8192 bytes and depth 6 reach moto; 8193 bytes or depth 7 throw and change nothing",
  ignore,
  async fn() {
    await using w = await shadowWorld();
    await using dev = await w.device({ [T]: {} });
    const t = dev.shadows.get(T);
    const edge = ofBytes(8192);
    equal(stateBytes({}, edge), 8192);
    t.update(edge);
    await t.synced(AbortSignal.timeout(10_000));
    deepEqual((await w.peer.read(THING, T))?.state.reported, edge);
    const before = t.get();
    const rowOf = () => dev.db.prepare("SELECT reported, version FROM _shadow").all();
    const rows = rowOf();
    throws(() => t.update(ofBytes(8193)), (e) => e instanceof ShadowLimitError && e.code === 413);
    throws(() => t.update({ more: 1 }), /8193 bytes|at most 8192/);
    deepEqual(t.get(), before);
    deepEqual(rowOf(), rows);
    t.update({ s: null });
    t.update({ deep: nested(5) });
    await t.synced(AbortSignal.timeout(10_000));
    deepEqual((await w.peer.read(THING, T))?.state.reported, { deep: nested(5) });
    throws(() => t.update({ deep: nested(6) }), /nested 7 levels deep; AWS allows at most 6/);
    throws(() => t.update({ when: new Date() } as never), /not a plain JSON object/);
    throws(() => t.update({ x: NaN }), /JSON cannot carry/);
    throws(() => t.update([1] as never), /must be a JSON object/);
    deepEqual(t.get().reported, { deep: nested(5) });
  },
});

Deno.test("names at and past AWS's limits, and bad characters, are refused with the rule", () => {
  shadowTopics("t".repeat(128), "s".repeat(64));
  throws(() => shadowTopics("t".repeat(129)), /at most 128/);
  throws(() => shadowTopics("pump", "s".repeat(65)), /at most 64/);
  throws(() => shadowTopics("pump", "a/b"), /may contain only letters, digits/);
  throws(() => shadowTopics("pump", ""), /must not be empty/);
  throws(() => shadowTopics("pump#1"), /may contain only/);
  equal(SHADOW_LIMITS.clientToken, 64);
});

Deno.test({
  name: "at most 10 requests are in flight on one connection; 12 shadows all sync",
  ignore,
  async fn() {
    await using w = await shadowWorld({ delay: 40 });
    const entries = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`s${i}`, {}]));
    // The peer answers one request at a time; on a loaded machine the tenth can wait past the
    // default 2 s timeout, which frees its slot while the peer still holds it (then 11+ open).
    await using dev = await w.device(entries, { requestTimeout: 30_000 });
    for (let i = 0; i < 12; i++) dev.shadows.get(`s${i}`).update({ i });
    for (let i = 0; i < 12; i++) await dev.shadows.get(`s${i}`).synced(AbortSignal.timeout(20_000));
    ok(w.peer.peak <= 10, `peer saw ${w.peer.peak} unanswered`);
    ok(dev.shadows.requests.peak <= 10);
    equal(dev.shadows.requests.peak, 10, "the eleventh and twelfth waited their turn");
    for (let i = 0; i < 12; i++) {
      deepEqual((await w.peer.read(THING, `s${i}`))?.state.reported, { i });
    }
  },
});

Deno.test({
  name: "429, 500, 401 and 403 are retried with backoff until accepted",
  ignore,
  async fn() {
    await using w = await shadowWorld();
    for (const code of [429, 500, 401, 403]) {
      const name = `s${code}`;
      let left = 2;
      w.peer.options.fault = (r) =>
        r.op === "update" && r.shadow === name && left-- > 0 ? code : undefined;
      await using dev = await w.device({ [name]: {} });
      const t = dev.shadows.get(name);
      t.update({ code });
      await t.synced(AbortSignal.timeout(15_000));
      deepEqual((await w.peer.read(THING, name))?.state.reported, { code });
      equal(t.status().retries, 2, `retries after ${code}`);
      ok(t.status().lastError?.includes(String(code)));
      await dev.stop();
    }
  },
});

Deno.test({
  name: "400, 413 and 415 refuse an update for good: counted, dropped, never retried",
  ignore,
  async fn() {
    await using w = await shadowWorld();
    for (const code of [400, 413, 415]) {
      const name = `s${code}`;
      let refuse = true;
      w.peer.options.fault = (r) =>
        r.op === "update" && r.shadow === name && refuse ? code : undefined;
      await using dev = await w.device({ [name]: {} });
      const t = dev.shadows.get(name);
      const updates = () =>
        w.peer.received.filter((r) => r.op === "update" && r.shadow === name).length;
      t.update({ bad: code });
      await until(() => t.status().refused === 1, { what: `refused after ${code}` });
      await t.synced(AbortSignal.timeout(10_000));
      const n = updates();
      await new Promise((r) => setTimeout(r, 300));
      equal(updates(), n, "not retried");
      equal(n, 1);
      refuse = false;
      t.update({ good: 1 });
      await t.synced(AbortSignal.timeout(10_000));
      equal((await w.peer.read(THING, name))?.state.reported?.good, 1, "later updates still go");
      await dev.stop();
    }
  },
});

Deno.test({
  name: "the responder's own checks answer 413 and 400 like AWS (a raw request past the limits)",
  ignore,
  async fn() {
    await using w = await shadowWorld();
    const { default: mqtt } = await import("mqtt");
    const c = await mqtt.connectAsync(w.broker.url, { reconnectPeriod: 0 });
    try {
      const got: Record<string, unknown>[] = [];
      const base = `$aws/things/${THING}/shadow/name/${T}/update`;
      await c.subscribeAsync(`${base}/rejected`, { qos: 1 });
      c.on("message", (_t, p) => got.push(JSON.parse(String(p))));
      await c.publishAsync(
        base,
        JSON.stringify({ state: { reported: ofBytes(8200) }, clientToken: "a" }),
        {
          qos: 1,
        },
      );
      await c.publishAsync(
        base,
        JSON.stringify({ state: { reported: nested(7) }, clientToken: "b" }),
        {
          qos: 1,
        },
      );
      await c.publishAsync(base, JSON.stringify({ state: {}, clientToken: "c".repeat(65) }), {
        qos: 1,
      });
      await until(() => got.length === 3);
      deepEqual(got.map((g) => g.code), [413, 400, 400]);
      equal(await w.peer.read(THING, T), undefined);
    } finally {
      await c.endAsync(true);
    }
  },
});
