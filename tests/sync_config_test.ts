/**
 * The `sync` section: defaults, the permissions it adds (the DynamoDB host
 * of the region, or the emulator's host:port), and plan errors that name
 * the key. Plus `full`: a table that lost its items gets every synced item
 * back, "both" models included; and expiring credentials are fetched again.
 */

import assert from "node:assert/strict";
import { configSchema, derivePermissions, syncSection } from "../lib/config/mod.ts";
import { Database } from "../lib/db/mod.ts";
import { createDynamoClient, planModels, SyncEngine } from "../sync/mod.ts";
import { DeleteTableCommand } from "@aws-sdk/client-dynamodb";
import { createSyncTable, scanTable } from "./helpers/dynalite.ts";
import { SCHEMA, T0, TABLE } from "./sync_helpers.ts";
import { syncCloud, syncSetup } from "./sync_setup.ts";

const BASE = { configDir: "/etc/tern", stateDir: "/var/lib/tern" };

Deno.test("sync adds the DynamoDB endpoint of its region, or the emulator's, to --allow-net", () => {
  const off = configSchema.parse({ aws: { region: "eu-west-1" } });
  assert.ok(!derivePermissions(off, BASE).net.some((h) => h.includes("dynamodb")));
  const on = configSchema.parse({ aws: { region: "eu-west-1" }, sync: { enabled: true } });
  assert.ok(derivePermissions(on, BASE).net.includes("dynamodb.eu-west-1.amazonaws.com:443"));
  const own = configSchema.parse({
    aws: { region: "eu-west-1" },
    sync: { enabled: true, region: "us-east-2" },
  });
  assert.ok(derivePermissions(own, BASE).net.includes("dynamodb.us-east-2.amazonaws.com:443"));
  const emu = configSchema.parse({ sync: { enabled: true, endpoint: "http://127.0.0.1:4567" } });
  assert.ok(derivePermissions(emu, BASE).net.includes("127.0.0.1:4567"));
});

Deno.test("sync defaults and validation name the key", () => {
  const d = syncSection.parse({});
  assert.equal(d.enabled, false);
  assert.equal(d.batchSize, 25);
  assert.equal(d.conflict, "lww");
  assert.equal(syncSection.safeParse({ batchSize: 26 }).success, false);
  const bad = syncSection.safeParse({ conflict: "newest" });
  assert.equal(bad.success, false);
  assert.deepEqual(bad.error!.issues[0]!.path, ["conflict"]);
  using db = Database.open({ path: ":memory:", schema: SCHEMA, purgeInterval: 0 });
  assert.throws(
    () => planModels(db, syncSection.parse({ models: { Settings: { conflict: "cloud-wins" } } })),
    /sync\.models\.Settings: the schema has no synced model "Settings"/,
  );
  const plan = planModels(
    db,
    syncSection.parse({ table: "t-default", models: { Setting: { conflict: "cloud-wins" } } }),
  );
  assert.deepEqual([...plan.keys()].sort(), ["Notice", "Reading", "Setting"]);
  assert.equal(plan.get("Setting")!.conflict, "cloud-wins");
  assert.equal(plan.get("Reading")!.table, "t-default");
});

Deno.test("full re-sends every synced item after the table lost them", async () => {
  await using s = await syncSetup({ start: T0 });
  const { agent, cloud } = s;
  agent.db.create("Reading", { deviceId: "d1", time: "2026-01-01T00:00:00Z", value: 1 });
  agent.db.create("Setting", { deviceId: "d1", name: "mode", value: "eco" });
  await agent.engine.syncNow();
  assert.equal((await scanTable(cloud, TABLE)).length, 2);
  await cloud.send(new DeleteTableCommand({ TableName: TABLE }));
  await new Promise((r) => setTimeout(r, 20));
  await createSyncTable(cloud, TABLE);
  assert.equal((await agent.engine.syncNow()).up.accepted, 0, "nothing pending");
  const r = await agent.engine.full();
  assert.equal(r.up.accepted, 2);
  const items = await scanTable(cloud, TABLE);
  assert.deepEqual(items.map((i) => [i.pk, i.value]), [["Device#d1", "eco"], ["Sensor#d1", 1]]);
});

Deno.test("temporary credentials are fetched again from the provider as they expire", async () => {
  await using s = await syncCloud({ memory: true });
  const { dir, ddb } = s;
  let calls = 0;
  const config = syncSection.parse({ enabled: true, endpoint: ddb.endpoint, table: TABLE });
  const client = createDynamoClient({
    sync: config,
    credentials: () => {
      calls++;
      // Expiring within the SDK's refresh window: every request asks again.
      return Promise.resolve({
        accessKeyId: `AKID${calls}`,
        secretAccessKey: "secret",
        sessionToken: `token-${calls}`,
        expiration: new Date(Date.now() + 10_000),
      });
    },
  });
  using db = Database.open({ path: `${dir}/d.db`, schema: SCHEMA, purgeInterval: 0 });
  await using engine = new SyncEngine({ db, ddb: client, deviceId: "d1", config });
  db.create("Reading", { deviceId: "d1", time: "2026-01-01T00:00:00Z", value: 1 });
  await engine.syncNow();
  const first = calls;
  db.create("Reading", { deviceId: "d1", time: "2026-01-01T00:00:01Z", value: 2 });
  await engine.syncNow();
  assert.ok(first >= 1 && calls > first, `provider called ${first} then ${calls} times`);
  assert.equal((await scanTable(ddb.client(), TABLE)).length, 2);
  await client[Symbol.asyncDispose]();
});
