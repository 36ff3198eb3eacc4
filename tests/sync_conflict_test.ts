/**
 * Conflicts on a model synced "both", against dynalite: an item changed on
 * the device and in the cloud since the last exchange. Last writer wins by
 * `updated` (device newer, cloud newer), equal times go to the cloud, and
 * the per-model policies device-wins and cloud-wins override it — found by
 * the conditional write going up or by the version check coming down. Each
 * conflict is logged and counted, and both sides end on the same version.
 */

import assert from "node:assert/strict";
import { type DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { cloudGet, cloudPut, iso, setting, T0, TABLE, tombstone } from "./sync_helpers.ts";
import { syncSetup } from "./sync_setup.ts";

const KEY = { deviceId: "d1", name: "mode" };
/** The cloud's copy of the setting KEY. */
const cloudSetting = (cloud: DynamoDBClient) => cloudGet(cloud, "Device#d1", "Setting#mode");
/** The cloud application's write of the setting KEY, stamped `at` (ms). */
const cloudWrite = (at: number) => setting({ ...KEY, value: "cloud", at, version: 2 });

interface Case {
  policy?: "lww" | "device-wins" | "cloud-wins";
  /** ms after T0 of the device's and the cloud's concurrent write. */
  device: number;
  cloud: number;
  /** Which pass meets the conflict first. */
  via: "up" | "down";
  winner: "device" | "cloud";
}

async function conflict(c: Case): Promise<void> {
  const sync = c.policy ? { models: { Setting: { conflict: c.policy } } } : {};
  await using s = await syncSetup({ start: T0, sync });
  const { agent, clock, cloud } = s;
  agent.db.create("Setting", { ...KEY, value: "start" });
  await agent.engine.syncNow();
  // Both sides change the item before they meet again.
  await clock.advance(c.device);
  agent.db.update("Setting", KEY, { value: "device" });
  await cloudPut(cloud, cloudWrite(T0 + c.cloud));
  await agent.engine.syncNow(undefined, c.via);
  await agent.engine.syncNow();
  const local = agent.db.get("Setting", KEY)!;
  const remote = (await cloudSetting(cloud))!;
  assert.equal(local.value, c.winner, "device value");
  assert.equal(remote.value, c.winner, "cloud value");
  assert.equal(remote.updated, local.updated);
  assert.equal(remote._version, local._version);
  const status = agent.engine.status();
  assert.equal(status.conflicts, 1);
  const [record] = status.recentConflicts!;
  assert.equal(record!.winner, c.winner);
  assert.equal(record!.policy, c.policy ?? "lww");
  assert.equal(record!.cloud!.updated, iso(T0 + c.cloud));
  // Settled: another round changes nothing and logs no new conflict.
  const again = await agent.engine.syncNow();
  assert.equal(again.down.applied, 0);
  assert.equal(agent.engine.status().conflicts, 1);
}

Deno.test("conflict, device newer: the device's version wins (found going up)", () =>
  conflict({ device: 5000, cloud: 2000, via: "up", winner: "device" }));

Deno.test("conflict, cloud newer: the cloud's version wins (found going up)", () =>
  conflict({ device: 2000, cloud: 5000, via: "up", winner: "cloud" }));

Deno.test("conflict, same time and version: the cloud wins the tie", () =>
  conflict({ device: 3000, cloud: 3000, via: "up", winner: "cloud" }));

Deno.test("conflict, device newer: the device's version wins (found coming down)", () =>
  conflict({ device: 5000, cloud: 2000, via: "down", winner: "device" }));

Deno.test("conflict, cloud newer: the cloud's version wins (found coming down)", () =>
  conflict({ device: 2000, cloud: 5000, via: "down", winner: "cloud" }));

Deno.test("conflict, same time coming down: the cloud wins the tie", () =>
  conflict({ device: 3000, cloud: 3000, via: "down", winner: "cloud" }));

Deno.test("device-wins: the device's older version replaces the cloud's", () =>
  conflict({ policy: "device-wins", device: 2000, cloud: 5000, via: "up", winner: "device" }));

Deno.test("cloud-wins: the cloud's older version replaces the device's", () =>
  conflict({ policy: "cloud-wins", device: 5000, cloud: 2000, via: "down", winner: "cloud" }));

Deno.test("a cloud change to an item the device did not touch is applied without conflict", async () => {
  await using s = await syncSetup({ start: T0 });
  const { agent, clock, cloud } = s;
  agent.db.create("Setting", { ...KEY, value: "start" });
  await agent.engine.syncNow();
  // An older `updated` than the device's copy: still applied, since only the cloud changed.
  await cloudPut(cloud, cloudWrite(T0 - 60_000));
  await clock.advance(1000);
  const r = await agent.engine.syncNow();
  assert.equal(r.down.applied, 1);
  assert.equal(agent.db.get("Setting", KEY)!.value, "cloud");
  assert.equal(agent.engine.status().conflicts, 0);
  // The device's next change goes up over it (the base moved to the cloud's version).
  agent.db.update("Setting", KEY, { value: "device" });
  await agent.engine.syncNow();
  const remote = await cloudSetting(cloud);
  assert.equal(remote?.value, "device");
  assert.equal(remote?._version, 3);
});

Deno.test("device-wins, same time and version: the device's content wins with a newer stamp", () =>
  conflict({ policy: "device-wins", device: 3000, cloud: 3000, via: "up", winner: "device" }));

Deno.test("delete versus update: the later one wins on both sides", async (t) => {
  for (
    const c of [
      { deviceDeletes: true, later: "cloud" },
      { deviceDeletes: true, later: "device" },
      { deviceDeletes: false, later: "cloud" },
      { deviceDeletes: false, later: "device" },
    ] as const
  ) {
    await t.step(
      `${c.deviceDeletes ? "device deletes" : "cloud deletes"}, ${c.later} later`,
      async () => {
        await using s = await syncSetup({ start: T0 });
        const { agent, clock, cloud } = s;
        agent.db.create("Setting", { ...KEY, value: "start" });
        await agent.engine.syncNow();
        const deviceAt = c.later === "device" ? 5000 : 2000;
        const cloudAt = c.later === "device" ? 2000 : 5000;
        await clock.advance(deviceAt);
        if (c.deviceDeletes) agent.db.remove("Setting", KEY);
        else agent.db.update("Setting", KEY, { value: "device" });
        const write = cloudWrite(T0 + cloudAt);
        await cloudPut(
          cloud,
          c.deviceDeletes ? write : tombstone(write, Math.floor(T0 / 1000) + 86_400),
        );
        await agent.engine.syncNow();
        await agent.engine.syncNow();
        const local = agent.db.get("Setting", KEY);
        const remote = (await cloudSetting(cloud))!;
        const deletedWins = c.deviceDeletes === (c.later === "device");
        if (deletedWins) {
          assert.equal(local, undefined, "deleted on the device");
          assert.equal(remote._deleted, true, "a tombstone in the cloud");
        } else {
          assert.equal(local?.value, c.deviceDeletes ? "cloud" : "device");
          assert.equal(remote._deleted, undefined);
          assert.equal(remote.value, local?.value);
        }
        assert.equal(agent.engine.status().conflicts, 1);
      },
    );
  }
});

Deno.test("an item written by hand without Tern's attributes is replaced, not retried forever", async () => {
  await using s = await syncSetup({ start: T0 });
  const { agent, cloud } = s;
  await cloud.send(
    new PutItemCommand({
      TableName: TABLE,
      Item: { pk: { S: "Device#d1" }, sk: { S: "Setting#mode" }, value: { S: "by hand" } },
    }),
  );
  agent.db.create("Setting", { ...KEY, value: "device" });
  const r = await agent.engine.syncNow();
  assert.equal(r.up.failed, 0);
  assert.equal((await cloudSetting(cloud))?.value, "device");
  assert.equal(agent.engine.status().backlog, 0);
});
