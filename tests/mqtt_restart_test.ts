/**
 * Restart: a process with queued messages is killed with SIGKILL; a new
 * process on the same database sends every message, in order.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { MqttClient } from "../lib/mqtt/mod.ts";
import { type AedesBroker, startAedes } from "./helpers/aedes.ts";
import { until } from "./helpers/wait.ts";

const CHILD = fileURLToPath(new URL("./mqtt_restart_child.ts", import.meta.url));
const dec = new TextDecoder();

/** Spawn the child, wait for its "queued" line (and `extra`), then SIGKILL it. */
async function runAndKill(
  file: string,
  url: string,
  count: number,
  extra?: () => boolean,
): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, file, url, String(count)],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes(`queued ${count}`)) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  ok(out.includes(`queued ${count}`), `child said: ${out}`);
  if (extra) await until(extra, { ms: 10_000, what: "child progress" });
  child.kill("SIGKILL");
  const status = await child.status;
  equal(status.signal, "SIGKILL");
  await reader.cancel();
}

/**
 * Start a new client on the killed child's database and wait until it has sent
 * its whole queue; the sequence numbers the broker received, in arrival order.
 */
async function resendAll(
  file: string,
  broker: AedesBroker,
  ms: number,
): Promise<number[]> {
  const db = new DatabaseSync(file);
  const client = new MqttClient({
    url: broker.url,
    clientId: "restart-dev",
    db,
    vars: { thing: "t", deviceId: "d" },
    reconnect: { min: 20, max: 100 },
  }).start();
  try {
    await until(() => client.status().queueDepth === 0, {
      ms,
      what: () => `queue ${client.status().queueDepth}`,
    });
    return broker.received.filter((m) => m.topic === "restart/seq").map((m) =>
      Number(dec.decode(m.payload))
    );
  } finally {
    await client.close();
    db.close();
  }
}

async function cleanup(file: string) {
  for (const f of [file, file + "-wal", file + "-shm"]) await Deno.remove(f).catch(() => {});
}

Deno.test("restart: kill -9 with 1,000 messages queued offline; after restart all 1,000 arrive in order", async () => {
  await using broker = await startAedes();
  await broker.stop(); // offline: everything stays queued
  const file = await Deno.makeTempFile({ suffix: ".db" });
  try {
    await runAndKill(file, broker.url, 1000);
    {
      const db = new DatabaseSync(file);
      equal((db.prepare("SELECT count(*) AS n FROM _mqtt_queue").get() as { n: number }).n, 1000);
      db.close();
    }
    await broker.start();
    const got = await resendAll(file, broker, 20_000);
    deepEqual(got, Array.from({ length: 1000 }, (_, i) => i));
  } finally {
    await cleanup(file);
  }
});

Deno.test("restart: kill -9 in the middle of sending; after restart every message arrives, first arrivals in order", async () => {
  // A broker that acknowledges slowly, so the kill lands mid-stream.
  await using broker = await startAedes({
    authorizePublish: (_c, _p, cb) => setTimeout(() => cb(null), 1),
  });
  const file = await Deno.makeTempFile({ suffix: ".db" });
  try {
    const count = 1000;
    await runAndKill(file, broker.url, count, () => broker.received.length >= 200);
    const before = broker.received.length;
    ok(before < count, `killed mid-way (${before} arrived before the kill)`);
    const got = await resendAll(file, broker, 30_000);
    const firsts: number[] = [];
    const seen = new Set<number>();
    for (const n of got) if (!seen.has(n) && seen.add(n)) firsts.push(n);
    deepEqual(firsts, Array.from({ length: count }, (_, i) => i));
    console.log(
      `kill -9 mid-stream: ${before} arrived before the kill, ${got.length - count} duplicate(s)`,
    );
  } finally {
    await cleanup(file);
  }
});
