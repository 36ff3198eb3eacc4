/**
 * MQTT benchmark against a local mosquitto (loopback, plain TCP), same run:
 * - QoS 1 publish throughput: Tern's `publish` (persistent queue in a SQLite
 *   file, WAL, wait "ack") vs raw `npm:mqtt` publish with no persistence;
 * - request/response latency (p50, p99): Tern's `request` (MQTT 5
 *   response topic + correlation data) vs raw npm:mqtt doing the same by hand,
 *   against one echo responder.
 *
 * Usage: deno run --allow-all tests/bench/mqtt_bench.ts [--messages 20000] [--requests 1000] [--rounds 3]
 * Prints a markdown table; ratios are Tern / raw (throughput: higher is
 * better; latency: lower is better).
 */

import process from "node:process";
import { DatabaseSync } from "node:sqlite";
import mqtt from "mqtt";
import { MqttClient } from "../../lib/mqtt/mod.ts";
import { MOSQUITTO_MISSING, mosquittoAvailable, startMosquitto } from "../helpers/mosquitto.ts";

function arg(name: string, def: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : def;
}

const MESSAGES = arg("messages", 20_000);
const REQUESTS = arg("requests", 1_000);
const ROUNDS = arg("rounds", 3);
const payload = new TextEncoder().encode(
  JSON.stringify({ temp: 21.5, hum: 40, ts: 1_700_000_000_000 }),
);

/** msg/s (wall clock) and process CPU µs per message (user + system, all threads). */
interface Run {
  rate: number;
  cpu: number;
}

async function rawThroughput(url: string): Promise<Run> {
  const c = await mqtt.connectAsync(url, {
    clientId: `raw-${crypto.randomUUID()}`,
    reconnectPeriod: 0,
  });
  const u0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    let left = MESSAGES;
    for (let i = 0; i < MESSAGES; i++) {
      c.publish("bench/raw", payload as Buffer, { qos: 1 }, (err) => {
        if (err) reject(err);
        else if (--left === 0) resolve();
      });
    }
  });
  const rate = MESSAGES / ((performance.now() - t0) / 1000);
  const u = process.cpuUsage(u0);
  await c.endAsync();
  return { rate, cpu: (u.user + u.system) / MESSAGES };
}

async function ternClient(url: string, file: string, protocolVersion: 4 | 5 = 4, inflight = 100) {
  const db = new DatabaseSync(file);
  db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL");
  const client = new MqttClient({
    url,
    clientId: `tern-${crypto.randomUUID()}`,
    db,
    vars: { thing: "bench", deviceId: "bench" },
    protocolVersion,
    queue: { maxMessages: MESSAGES * 2, inflight },
  }).start();
  await client.waitConnected(AbortSignal.timeout(5000));
  return {
    client,
    async close() {
      await client.close();
      db.close();
    },
  };
}

async function ternThroughput(url: string, file: string, inflight: number): Promise<Run> {
  const t = await ternClient(url, file, 4, inflight);
  const u0 = process.cpuUsage();
  const t0 = performance.now();
  const all = [];
  for (let i = 0; i < MESSAGES; i++) {
    all.push(t.client.publish("bench/tern", payload, { qos: 1, wait: "ack" }));
  }
  await Promise.all(all);
  const rate = MESSAGES / ((performance.now() - t0) / 1000);
  const u = process.cpuUsage(u0);
  await t.close();
  return { rate, cpu: (u.user + u.system) / MESSAGES };
}

/** Same socket setting as Tern's client (no Nagle delay on small packets). */
function noDelay(c: mqtt.MqttClient): void {
  (c.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function rawLatency(url: string): Promise<number[]> {
  const c = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0 });
  noDelay(c);
  const base = `raw/response/${crypto.randomUUID()}`;
  await c.subscribeAsync(`${base}/+`, { qos: 1 });
  const waiting = new Map<string, () => void>();
  c.on("message", (_t, _p, packet) => {
    const id = new TextDecoder().decode(packet.properties!.correlationData!);
    waiting.get(id)?.();
  });
  const times: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const id = crypto.randomUUID();
    const t0 = performance.now();
    const done = new Promise<void>((r) => waiting.set(id, r));
    c.publish("bench/echo", payload as Buffer, {
      qos: 1,
      properties: {
        responseTopic: `${base}/${id}`,
        correlationData: new TextEncoder().encode(id) as Buffer,
      },
    });
    await done;
    waiting.delete(id);
    times.push(performance.now() - t0);
  }
  await c.endAsync();
  return times.sort((a, b) => a - b);
}

async function ternLatency(url: string, file: string): Promise<number[]> {
  const t = await ternClient(url, file, 5);
  const times: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const t0 = performance.now();
    await t.client.request("bench/echo", payload, { timeout: 5000 });
    times.push(performance.now() - t0);
  }
  await t.close();
  return times.sort((a, b) => a - b);
}

async function main() {
  if (!mosquittoAvailable()) {
    console.error(MOSQUITTO_MISSING);
    Deno.exit(0);
  }
  await using broker = await startMosquitto();
  const echo = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
  await echo.subscribeAsync("bench/echo", { qos: 1 });
  echo.on("message", (_t, p, packet) => {
    const props = packet.properties!;
    echo.publish(props.responseTopic!, p, {
      qos: 1,
      properties: { correlationData: props.correlationData! },
    });
  });
  const dir = await Deno.makeTempDir({ prefix: "tern-mqtt-bench-" });
  const raw: Run[] = [];
  const tern: Run[] = [];
  const wide: Run[] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      raw.push(await rawThroughput(broker.url));
      tern.push(await ternThroughput(broker.url, `${dir}/tp${r}.db`, 100));
      wide.push(await ternThroughput(broker.url, `${dir}/wide${r}.db`, 1000));
    }
    const rawLat = await rawLatency(broker.url);
    const ternLat = await ternLatency(broker.url, `${dir}/lat.db`);
    const best = (xs: Run[]) => Math.max(...xs.map((x) => x.rate));
    const median = (xs: Run[]) => xs.map((x) => x.cpu).sort((a, b) => a - b)[xs.length >> 1]!;
    const f = (n: number) => n.toFixed(0);
    const g = (n: number) => n.toFixed(2);
    const row = (name: string, xs: Run[]) =>
      `| ${name} | ${f(best(xs))} | ${g(best(xs) / best(raw))} | ${median(xs).toFixed(1)} | ${
        g(median(raw) / median(xs))
      } |`;
    console.log(
      `Deno ${Deno.version.deno}, mosquitto on 127.0.0.1, ${navigator.hardwareConcurrency} CPUs\n`,
    );
    console.log(
      `| QoS 1 publish (${MESSAGES} × ${payload.length} B, ${ROUNDS} rounds) | best msg/s | vs raw | ` +
        "median CPU µs/msg | vs raw (CPU) |",
    );
    console.log("| --- | ---: | ---: | ---: | ---: |");
    console.log(row("raw npm:mqtt, no persistence", raw));
    console.log(row('Tern publish, SQLite queue (WAL), wait "ack", inflight 100 (default)', tern));
    console.log(row("Tern publish, same, queue.inflight 1000", wide));
    console.log("");
    console.log(
      `| request/response (${REQUESTS} sequential, MQTT 5) | p50 ms | p99 ms | p50 vs raw |`,
    );
    console.log("| --- | ---: | ---: | ---: |");
    console.log(`| raw npm:mqtt | ${g(pct(rawLat, 50))} | ${g(pct(rawLat, 99))} | 1.00 |`);
    console.log(
      `| Tern request | ${g(pct(ternLat, 50))} | ${g(pct(ternLat, 99))} | ${
        g(pct(ternLat, 50) / pct(rawLat, 50))
      } |`,
    );
    const list = (xs: Run[]) => xs.map((x) => `${f(x.rate)}/${x.cpu.toFixed(0)}`).join(", ");
    console.log(
      `\nall rounds (msg/s / CPU µs per msg): raw ${list(raw)}; Tern ${
        list(tern)
      }; Tern inflight 1000 ${list(wide)}`,
    );
  } finally {
    await echo.endAsync(true);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await main();
