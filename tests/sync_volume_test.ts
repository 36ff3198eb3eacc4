/**
 * Volume: 10,000 items up (coalesced into full batches, cursor at the end)
 * and 10,000 items down (paged reads of the index), against dynalite.
 */

import assert from "node:assert/strict";
import { BatchWriteItemCommand } from "@aws-sdk/client-dynamodb";
import { UP_CURSOR } from "../sync/mod.ts";
import { scanTable } from "./helpers/dynalite.ts";
import { sdkItem } from "./helpers/sdk_items.ts";
import { iso, notice, T0, TABLE } from "./sync_helpers.ts";
import { syncSetup } from "./sync_setup.ts";

const N = 10_000;

Deno.test("10,000 items go up and 10,000 come down", async () => {
  await using s = await syncSetup({ start: T0, memory: true });
  const { agent, cloud } = s;
  agent.db.transaction(() => {
    for (let i = 0; i < N; i++) {
      agent.db.create("Reading", { deviceId: "d1", time: iso(T0 + i * 1000), value: i });
    }
  });
  const up = await agent.engine.syncNow();
  assert.equal(up.up.accepted, N);
  assert.equal(agent.db.cursor(UP_CURSOR).get(), agent.db.lastSeq());
  const items = await scanTable(cloud, TABLE);
  assert.equal(items.length, N);
  assert.equal(new Set(items.map((i) => i.value)).size, N);

  // A cloud application addresses 10,000 notices to every device.
  const notices = Array.from({ length: N }, (_, i) =>
    notice({
      to: "*",
      target: "all",
      id: `n${String(i).padStart(5, "0")}`,
      text: `notice ${i}`,
      at: T0 + i,
    }));
  for (let i = 0; i < N; i += 25) {
    await cloud.send(
      new BatchWriteItemCommand({
        RequestItems: {
          [TABLE]: notices.slice(i, i + 25).map((n) => ({ PutRequest: { Item: sdkItem(n) } })),
        },
      }),
    );
  }
  const down = await agent.engine.syncNow();
  assert.equal(down.down.applied, N);
  assert.equal(agent.db.count("Notice"), N);
  assert.equal(agent.db.get("Notice", { target: "all", id: "n09999" })!.text, "notice 9999");
});
