/**
 * Reconnect behaviour: 50 clients on one broker that restarts must spread
 * their reconnect attempts (full jitter), not arrive together; an auth failure
 * is retried slowly.
 */

import { equal, ok } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { MqttClient } from "../lib/mqtt/mod.ts";
import { startAedes } from "./helpers/aedes.ts";
import { until } from "./helpers/wait.ts";
import { testClient } from "./mqtt_helpers.ts";

Deno.test("50 clients against a restarting broker spread their reconnects over the backoff window", async () => {
  await using broker = await startAedes();
  const N = 50;
  const dbs = Array.from({ length: N }, () => new DatabaseSync(":memory:"));
  const clients = dbs.map((db, i) =>
    new MqttClient({
      url: broker.url,
      clientId: `fleet-${i}`,
      db,
      vars: { thing: `fleet-${i}`, deviceId: `fleet-${i}` },
      reconnect: { min: 100, max: 1600 },
    }).start()
  );
  try {
    await until(() => clients.every((c) => c.connected), { ms: 10_000, what: "first connections" });
    await broker.stop();
    // Down long enough for several failed attempts each (backoff grows to its cap).
    await new Promise((r) => setTimeout(r, 1500));
    const arrivalsBefore = broker.connects.length;
    const restartAt = Date.now();
    await broker.start();
    await until(() => clients.every((c) => c.connected), {
      ms: 10_000,
      what: () => `${broker.broker.connectedClients} reconnected`,
    });
    const times = broker.connects.slice(arrivalsBefore).map((c) => c.at - restartAt);
    equal(times.length, N);
    // Lock step would put all 50 in one instant; with full jitter they spread over the cap.
    const buckets = new Map<number, number>();
    for (const t of times) {
      buckets.set(Math.floor(t / 100), (buckets.get(Math.floor(t / 100)) ?? 0) + 1);
    }
    const busiest = Math.max(...buckets.values());
    const span = Math.max(...times) - Math.min(...times);
    console.log(
      `50 reconnects spread over ${span} ms; busiest 100 ms window had ${busiest}; ` +
        `${buckets.size} distinct windows`,
    );
    // (Loose bounds: a loaded CI machine can stall timers; lock step would give 1 or 2 windows.)
    ok(busiest <= N / 2, `at most half in any 100 ms window (got ${busiest})`);
    ok(buckets.size >= 5, `arrivals in at least 5 different 100 ms windows (got ${buckets.size})`);
    ok(span >= 300, `spread over at least 300 ms (got ${span})`);
    for (const c of clients) equal(c.status().reconnects, 1);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    for (const db of dbs) db.close();
  }
});

Deno.test("a refused CONNECT (bad credentials) is reported clearly and retried slowly", async () => {
  await using broker = await startAedes({
    authenticate: (_client, _user, _pass, done) => {
      const e = Object.assign(new Error("bad"), { returnCode: 4 });
      done(e as never, false);
    },
  });
  await using h = testClient(broker.url, {
    clientId: "locked-out",
    username: "u",
    password: "wrong",
    reconnect: { min: 10, max: 50, authMin: 30_000, authMax: 60_000 },
  });
  const client = h.client.start();
  await until(() => client.status().lastError !== undefined, { what: "no error yet" });
  await new Promise((r) => setTimeout(r, 300));
  const s = client.status();
  equal(s.authFailure, true);
  equal(s.attempts, 1, "not hammered: one attempt in 300 ms despite reconnect.min = 10");
  ok(
    /refused the connection: bad user name or password \(code 4\)/.test(s.lastError!),
    s.lastError!,
  );
  ok(s.nextAttemptAt! - Date.now() >= 29_000);
});
