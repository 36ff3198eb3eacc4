/**
 * Volume: 10,000 items up (coalesced into full batches, cursor at the end)
 * and 10,000 items down (paged reads of the index), against dynalite.
 */

import assert from "node:assert/strict";
import { BatchWriteItemCommand } from "@aws-sdk/client-dynamodb";
import { FakeClock } from "../lib/clock.ts";
import { toAttributes, UP_CURSOR } from "../sync/mod.ts";
import { createSyncTable, scanTable, startDynalite } from "./helpers/dynalite.ts";
import { openAgent, TABLE, tempDir } from "./sync_helpers.ts";

const N = 10_000;
const T0 = Date.parse("2026-01-01T00:00:00Z");

Deno.test("10,000 items go up and 10,000 come down", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  await using ddb = await startDynalite({ memory: true });
  const cloud = ddb.client();
  await createSyncTable(cloud, TABLE);
  const clock = new FakeClock(T0);
  await using agent = openAgent({ dir, deviceId: "d1", ddb, clock });
  agent.db.transaction(() => {
    for (let i = 0; i < N; i++) {
      agent.db.create("Reading", {
        deviceId: "d1",
        time: new Date(T0 + i * 1000).toISOString(),
        value: i,
      });
    }
  });
  const up = await agent.engine.syncNow();
  assert.equal(up.up.accepted, N);
  assert.equal(agent.db.cursor(UP_CURSOR).get(), agent.db.lastSeq());
  const items = await scanTable(cloud, TABLE);
  assert.equal(items.length, N);
  assert.equal(new Set(items.map((i) => i.value)).size, N);

  // A cloud application addresses 10,000 notices to every device.
  const notices = Array.from({ length: N }, (_, i) => ({
    pk: "Notice#all",
    sk: `n${String(i).padStart(5, "0")}`,
    _model: "Notice",
    _to: "*",
    updated: new Date(T0 + i).toISOString(),
    _version: 1,
    target: "all",
    id: `n${String(i).padStart(5, "0")}`,
    text: `notice ${i}`,
  }));
  for (let i = 0; i < N; i += 25) {
    await cloud.send(
      new BatchWriteItemCommand({
        RequestItems: {
          [TABLE]: notices.slice(i, i + 25).map((n) => ({ PutRequest: { Item: toAttributes(n) } })),
        },
      }),
    );
  }
  const down = await agent.engine.syncNow();
  assert.equal(down.down.applied, N);
  assert.equal(agent.db.count("Notice"), N);
  assert.equal(agent.db.get("Notice", { target: "all", id: "n09999" })!.text, "notice 9999");
});
