/**
 * Shadow benchmark against a local mosquitto (loopback, plain TCP), same
 * run: the round trip of one reported-state update until the service's
 * `update/accepted`, sequentially,
 * - Tern: `shadow.update({ n })` (validated, merged, stored in SQLite, diffed,
 *   queued in the MQTT client's SQLite queue, published QoS 1) then
 *   `await shadow.synced()` (the accepted reply applied to the local copy);
 * - raw: `npm:mqtt` publishing the same update document with a clientToken
 *   and waiting for the `update/accepted` with that token (nothing stored).
 *
 * The responder is an in-memory shadow service on the broker (version + 1,
 * `update/accepted` and `update/documents` as AWS publishes them): moto is
 * left out so the numbers show the device side, not an emulator's HTTP.
 *
 * Usage: deno run --allow-all tests/bench/shadow_bench.ts [--updates 500] [--rounds 5]
 * Writes tests/bench/results/shadow.md.
 */

import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import mqtt from "mqtt";
import { MqttClient } from "../../lib/mqtt/mod.ts";
import { Shadows } from "../../lib/cloud/shadow/mod.ts";
import { nullLogger } from "../../lib/log/mod.ts";
import { systemClock } from "../../lib/clock.ts";
import { MOSQUITTO_MISSING, mosquittoAvailable, startMosquitto } from "../helpers/mosquitto.ts";

function arg(name: string, def: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : def;
}
const UPDATES = arg("updates", 500);
const ROUNDS = arg("rounds", 5);

async function responder(url: string) {
  const c = await mqtt.connectAsync(url, { clientId: "bench-shadow-service", reconnectPeriod: 0 });
  const versions = new Map<string, number>();
  c.on("message", (topic, payload) => {
    const body = JSON.parse(String(payload));
    const base = topic.slice(0, topic.lastIndexOf("/"));
    if (topic.endsWith("/get")) {
      const v = versions.get(base);
      if (v === undefined) {
        c.publish(
          `${topic}/rejected`,
          JSON.stringify({ code: 404, message: "No shadow", clientToken: body.clientToken }),
          { qos: 1 },
        );
      } else {
        c.publish(
          `${topic}/accepted`,
          JSON.stringify({ state: {}, version: v, clientToken: body.clientToken }),
          { qos: 1 },
        );
      }
      return;
    }
    const v = (versions.get(base) ?? 0) + 1;
    versions.set(base, v);
    const ts = Math.floor(Date.now() / 1000);
    c.publish(
      `${topic}/accepted`,
      JSON.stringify({
        state: body.state,
        version: v,
        timestamp: ts,
        clientToken: body.clientToken,
      }),
      { qos: 1 },
    );
    c.publish(
      `${topic}/documents`,
      JSON.stringify({
        previous: null,
        current: { state: body.state, version: v },
        timestamp: ts,
        clientToken: body.clientToken,
      }),
      { qos: 1 },
    );
  });
  await c.subscribeAsync(
    ["$aws/things/+/shadow/name/+/update", "$aws/things/+/shadow/name/+/get"],
    { qos: 1 },
  );
  return c;
}

function stats(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { p50: q(0.5), p99: q(0.99), rate: 1000 * s.length / s.reduce((a, b) => a + b, 0) };
}

async function raw(url: string, thing: string): Promise<number[]> {
  const c = await mqtt.connectAsync(url, { clientId: `raw-${thing}`, reconnectPeriod: 0 });
  const topic = `$aws/things/${thing}/shadow/name/bench/update`;
  await c.subscribeAsync(`${topic}/accepted`, { qos: 1 });
  const waiting = new Map<string, () => void>();
  c.on("message", (_t, p) => waiting.get(JSON.parse(String(p)).clientToken)?.());
  const out: number[] = [];
  for (let i = 0; i < UPDATES; i++) {
    const token = `raw-${i}`;
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      waiting.set(token, resolve);
      c.publish(topic, JSON.stringify({ state: { reported: { n: i } }, clientToken: token }), {
        qos: 1,
      });
    });
    waiting.delete(token);
    out.push(performance.now() - t0);
  }
  await c.endAsync();
  return out;
}

async function tern(url: string, thing: string, dir: string): Promise<number[]> {
  const db = new DatabaseSync(join(dir, `${thing}.db`));
  db.exec("PRAGMA journal_mode = WAL");
  const client = new MqttClient({
    url,
    clientId: `tern-${thing}`,
    vars: { thing, deviceId: thing },
    db,
  });
  const shadows = new Shadows({
    mqtt: client,
    db,
    thing,
    entries: {
      bench: {
        classic: false,
        direction: "both",
        sync: { mode: "change", debounce: 0 },
        recreate: false,
      },
    },
    clock: systemClock,
    log: nullLogger,
  });
  client.start();
  await shadows.start();
  const s = shadows.get("bench");
  await s.synced();
  const out: number[] = [];
  for (let i = 0; i < UPDATES; i++) {
    const t0 = performance.now();
    s.update({ n: i });
    await s.synced();
    out.push(performance.now() - t0);
  }
  await shadows[Symbol.asyncDispose]();
  await client.close();
  db.close();
  return out;
}

if (import.meta.main) {
  if (!mosquittoAvailable()) {
    console.warn(`shadow bench skipped: ${MOSQUITTO_MISSING}`);
    Deno.exit(0);
  }
  await using broker = await startMosquitto();
  const svc = await responder(broker.url);
  const dir = await Deno.makeTempDir({ prefix: "tern-shadow-bench-" });
  const rawRuns: ReturnType<typeof stats>[] = [];
  const ternRuns: ReturnType<typeof stats>[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    rawRuns.push(stats(await raw(broker.url, `raw${r}`)));
    ternRuns.push(stats(await tern(broker.url, `tern${r}`, dir)));
  }
  await svc.endAsync();
  await Deno.remove(dir, { recursive: true });
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const pick = (runs: ReturnType<typeof stats>[], k: "p50" | "p99" | "rate") =>
    med(runs.map((x) => x[k]));
  const f = (n: number, d = 2) => n.toFixed(d);
  const load = Deno.loadavg().map((x) => x.toFixed(2)).join(", ");
  const table = [
    "# Device Shadows (lib/cloud/shadow vs raw npm:mqtt)",
    "",
    `Command: \`deno run --allow-all tests/bench/shadow_bench.ts --updates ${UPDATES} --rounds ${ROUNDS}\` ` +
    `(Deno ${Deno.version.deno}, mosquitto on loopback, in-memory shadow responder; sequential updates, ` +
    `median of ${ROUNDS} rounds, raw and Tern alternating). Load average: ${load} (shared machine).`,
    "",
    "| case | updates/s | p50 ms | p99 ms |",
    "|---|---:|---:|---:|",
    `| raw npm:mqtt: publish update, wait for update/accepted | ${f(pick(rawRuns, "rate"), 0)} | ${
      f(pick(rawRuns, "p50"))
    } | ${f(pick(rawRuns, "p99"))} |`,
    `| Tern: update() stored in SQLite, sent, accepted applied | ${
      f(pick(ternRuns, "rate"), 0)
    } | ${f(pick(ternRuns, "p50"))} | ${f(pick(ternRuns, "p99"))} |`,
    `| ratio (Tern / raw) | ${f(pick(ternRuns, "rate") / pick(rawRuns, "rate"))} | ${
      f(pick(ternRuns, "p50") / pick(rawRuns, "p50"))
    } | ${f(pick(ternRuns, "p99") / pick(rawRuns, "p99"))} |`,
    "",
    "Tern's round trip includes two SQLite commits (the local copy, the MQTT queue row) and its",
    "delete on PUBACK, and the update/documents echo the service sends with every update.",
    "",
  ].join("\n");
  await Deno.writeTextFile(new URL("./results/shadow.md", import.meta.url), table);
  console.log(table);
}
