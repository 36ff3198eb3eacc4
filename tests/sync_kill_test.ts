/**
 * `kill -9` of the agent at random moments while it writes and syncs both
 * ways, 20 times, against dynalite on disk (in this process). Between kills
 * a cloud application writes notices for the device and updates a setting.
 * Afterwards, once a restarted agent has synced: the device and the table
 * hold exactly the same items at the same versions, every acknowledged
 * write is there, no cloud item was applied twice, and no stale version won.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Database } from "../lib/db/mod.ts";
import { scanTable } from "./helpers/dynalite.ts";
import { forEachLine, killAndCheck, spawnDeno } from "./helpers/process.ts";
import { cloudPut, notice, openAgent, SCHEMA, setting, TABLE } from "./sync_helpers.ts";
import { syncCloud } from "./sync_setup.ts";

const ROUNDS = 20;
const CHILD = new URL("./sync_kill_child.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;
const FLAGS = [
  `--config=${CONFIG}`,
  "--allow-read",
  "--allow-write",
  "--allow-net=127.0.0.1",
  "--allow-env",
  "--allow-sys",
];

Deno.test("kill -9 during up and down sync, 20 times: device and table end identical", async () => {
  await using s = await syncCloud({ memory: true });
  const { dir, ddb, cloud } = s;
  const path = join(dir, "d1.db");
  let next = 1;
  let lastAckedMode = -1;
  const acked = new Set<number>();
  const remoteValues: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // The cloud side changes between kills: a notice for the device, a newer remote setting.
    const now = Date.now();
    const to = round % 2 ? "d1" : "*";
    await cloudPut(
      cloud,
      notice({ to, target: "d1", id: `n${round}`, text: `round ${round}`, at: now }),
    );
    await cloudPut(
      cloud,
      setting({ deviceId: "d1", name: "remote", value: `r${round}`, at: now, version: round + 1 }),
    );
    remoteValues.push(`r${round}`);
    const child = spawnDeno(FLAGS, CHILD, [path, ddb.endpoint, String(next)]);
    let ready = () => {};
    const isReady = new Promise<void>((r) => ready = r);
    const reader = forEachLine(child.stdout, (p) => {
      if (p === "ready") ready();
      const m = /^ack (\d+)$/.exec(p);
      if (m) {
        const n = Number(m[1]);
        acked.add(n);
        if (n % 3 === 0) lastAckedMode = Math.max(lastAckedMode, n);
        next = Math.max(next, n + 1);
      }
    });
    const stderr = new Response(child.stderr).text();
    await Promise.race([isReady, child.status]);
    await new Promise((r) => setTimeout(r, 30 + Math.random() * 300));
    await killAndCheck(child, reader, stderr);
    next += 1; // a write may have committed without its ack being read
  }
  // The killed agents did sync (up and down) between kills, not only the final one.
  const synced = await scanTable(cloud, TABLE);
  assert.ok(synced.some((i) => i._model === "Reading"), "readings went up before the last kill");
  {
    using db = Database.open({ path, schema: SCHEMA, purgeInterval: 0 });
    assert.ok(db.count("Notice") > 0, "notices came down before the last kill");
  }
  // A clean restart syncs what is left.
  {
    await using agent = openAgent({ dir, deviceId: "d1", ddb });
    await agent.engine.syncNow();
    await agent.engine.syncNow();
  }
  using db = Database.open({ path, schema: SCHEMA, purgeInterval: 0 });
  const local = new Map<string, Record<string, unknown>>();
  for (const { model, item } of db.items()) {
    const k = db.keyOf(model, item);
    local.set(`${k.pk}|${k.sk || "_"}`, item);
  }
  const remote = new Map<string, Record<string, unknown>>();
  for (const item of await scanTable(cloud, TABLE)) {
    if (item._deleted) continue;
    remote.set(`${item.pk}|${item.sk}`, item);
  }
  // Every acknowledged write is on the device.
  for (const n of acked) {
    const time = new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString();
    assert.ok(db.get("Reading", { deviceId: "d1", time }), `acknowledged reading ${n}`);
  }
  // Device and table hold the same items at the same versions.
  assert.deepEqual([...local.keys()].sort(), [...remote.keys()].sort());
  for (const [key, item] of local) {
    const r = remote.get(key)!;
    assert.equal(r.updated, item.updated, key);
    assert.equal(r._version, item._version, key);
    for (const f of ["value", "text"]) assert.equal(r[f], item[f], `${key} ${f}`);
  }
  // No stale version won: the newest on each side is what both hold.
  const mode = db.get("Setting", { deviceId: "d1", name: "mode" })!;
  assert.ok(Number(mode.value) >= lastAckedMode, `mode ${mode.value} ≥ ${lastAckedMode}`);
  assert.equal(db.get("Setting", { deviceId: "d1", name: "remote" })!.value, remoteValues.at(-1));
  assert.equal(db.count("Notice"), ROUNDS);
  // Each cloud notice was applied once.
  const applied = db.changes(0, { limit: 100_000 }).filter((c) => c.model === "Notice");
  assert.equal(new Set(applied.map((c) => c.sk)).size, applied.length);
});
