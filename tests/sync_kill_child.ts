/**
 * Child of sync_kill_test.ts: an agent that writes and syncs at the same
 * time until it is killed. Writes Readings (synced up) and updates the
 * Setting "mode" (synced both) and prints `ack N` once write N committed;
 * meanwhile it runs sync passes back to back.
 *
 * Usage: deno run … sync_kill_child.ts DB_PATH ENDPOINT FIRST_N
 */

import { syncSection } from "../lib/config/mod.ts";
import { Database } from "../lib/db/mod.ts";
import { createDynamoClient, SyncEngine } from "../sync/mod.ts";
import { SCHEMA, TABLE } from "./sync_helpers.ts";

if (import.meta.main) await main();

async function main(): Promise<void> {
  const [path, endpoint, first] = Deno.args;
  const db = Database.open({ path: path!, schema: SCHEMA, purgeInterval: 0 });
  const config = syncSection.parse({
    enabled: true,
    endpoint,
    table: TABLE,
    readSize: 40,
    batchSize: 10,
    backoff: { min: 5, max: 50 },
  });
  const ddb = createDynamoClient({
    sync: config,
    credentials: () => Promise.resolve({ accessKeyId: "test", secretAccessKey: "test" }),
  });
  const engine = new SyncEngine({ db, ddb, deviceId: "d1", config });
  const encoder = new TextEncoder();
  const say = (line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n"));
  say("ready");

  (async () => {
    for (;;) {
      try {
        await engine.syncNow();
      } catch { /* retried */ }
      await new Promise((r) => setTimeout(r, 2));
    }
  })();

  for (let n = Number(first);; n++) {
    const time = new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString();
    db.create("Reading", { deviceId: "d1", time, value: n });
    if (n % 3 === 0) {
      db.update("Setting", { deviceId: "d1", name: "mode" }, { value: String(n) }, {
        upsert: true,
      });
    }
    say(`ack ${n}`);
    await new Promise((r) => setTimeout(r, 1 + Math.random() * 4));
  }
}
