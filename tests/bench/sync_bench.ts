/**
 * Sync benchmark: up-sync items/s for 10,000 changed items vs a raw
 * `BatchWriteItem` loop writing the same items (same attribute maps, batches
 * of 25, same number of requests in flight) to the same dynalite in the same
 * run; and down-sync items/s vs a raw `Query` loop reading the same index
 * pages. Rounds alternate raw and Tern on fresh tables; the median is kept.
 * Writes the table to tests/bench/results/sync.md.
 *
 *   deno run --allow-all tests/bench/sync_bench.ts [--items 10000] [--rounds 3]
 */

import { join } from "node:path";
import {
  BatchWriteItemCommand,
  QueryCommand,
  type WriteRequest as SdkWriteRequest,
} from "@aws-sdk/client-dynamodb";
import { FakeClock } from "../../lib/clock.ts";
import {
  type AttributeMap,
  createDynamoClient,
  toAttributes,
  toCloudItem,
  type WriteRequest,
} from "../../sync/mod.ts";
import { syncSection } from "../../lib/config/mod.ts";
import { createSyncTable, startDynalite } from "../helpers/dynalite.ts";
import { openAgent } from "../sync_helpers.ts";

const arg = (name: string, dflt: number) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
};
const N = arg("items", 10_000);
const ROUNDS = arg("rounds", 3);
const CONCURRENCY = 8;
const T0 = Date.parse("2026-01-01T00:00:00Z");

await using ddb = await startDynalite({ memory: true });
const client = ddb.client();
// The DynamoDB client Tern builds (sync/dynamodb.ts), for a raw loop over the same transport.
const fetchClient = createDynamoClient({
  sync: syncSection.parse({ enabled: true, endpoint: ddb.endpoint }),
  credentials: () => Promise.resolve({ accessKeyId: "test", secretAccessKey: "test" }),
});
const dir = await Deno.makeTempDir({ prefix: "tern_sync_bench_" });

type BatchWrite = (
  table: string,
  reqs: WriteRequest[],
) => Promise<{ UnprocessedItems?: Record<string, WriteRequest[]> }>;
const sdkBatch: BatchWrite = async (table, reqs) => {
  const out = await client.send(
    new BatchWriteItemCommand({
      RequestItems: {
        [table]: reqs as SdkWriteRequest[],
      },
    }),
  );
  return { UnprocessedItems: { [table]: (out.UnprocessedItems?.[table] ?? []) as WriteRequest[] } };
};
const ternBatch: BatchWrite = (table, reqs) =>
  fetchClient.batchWriteItem({ RequestItems: { [table]: reqs } });

async function rawUp(
  table: string,
  items: AttributeMap[],
  via: BatchWrite = sdkBatch,
): Promise<number> {
  const batches: WriteRequest[][] = [];
  for (let i = 0; i < items.length; i += 25) {
    batches.push(items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })));
  }
  const t = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < batches.length) {
      let reqs = batches[next++]!;
      while (reqs.length) {
        const out = await via(table, reqs);
        reqs = out.UnprocessedItems?.[table] ?? [];
      }
    }
  }));
  return performance.now() - t;
}

async function rawDown(table: string, to: string): Promise<{ ms: number; read: number }> {
  const t = performance.now();
  let read = 0;
  let start: Record<string, never> | undefined;
  do {
    const page = await client.send(
      new QueryCommand({
        TableName: table,
        IndexName: "tern-down",
        KeyConditionExpression: "#t = :t",
        ExpressionAttributeNames: { "#t": "_to" },
        ExpressionAttributeValues: { ":t": { S: to } },
        Limit: 500,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    read += page.Items?.length ?? 0;
    start = page.LastEvaluatedKey as typeof start;
  } while (start);
  return { ms: performance.now() - t, read };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const up = { raw: [] as number[], rawFetch: [] as number[], tern: [] as number[] };
const down = { raw: [] as number[], tern: [] as number[] };

for (let round = 0; round < ROUNDS; round++) {
  const table = `bench-${round}`;
  const rawTable = `bench-raw-${round}`;
  await createSyncTable(client, table);
  await createSyncTable(client, rawTable);
  const agent = openAgent({
    dir,
    deviceId: `d${round}`,
    ddb,
    clock: new FakeClock(T0),
    sync: { table, concurrency: CONCURRENCY },
  });
  agent.db.transaction(() => {
    for (let i = 0; i < N; i++) {
      agent.db.create("Reading", {
        deviceId: `d${round}`,
        time: new Date(T0 + i * 1000).toISOString(),
        value: i,
      });
    }
  });
  // The raw side writes the very items Tern sends.
  const model = agent.engine.models.find((m) => m.name === "Reading")!;
  const items = [...agent.db.items("Reading")].map(({ item }) =>
    toCloudItem(model, agent.db.keyOf("Reading", item), item, `d${round}`)
  );
  // Alternate which side goes first, so neither always meets the warmer (or fuller) emulator.
  let rawMs = 0, ternMs = 0;
  const runTern = async () => {
    const t = performance.now();
    const r = await agent.engine.syncNow(undefined, "up");
    ternMs = performance.now() - t;
    if (r.up.accepted !== N) throw new Error(`Tern sent ${r.up.accepted} of ${N}`);
  };
  let rawFetchMs = 0;
  await createSyncTable(client, `${rawTable}-f`);
  const runRaw = async () => {
    rawMs = await rawUp(rawTable, items);
    rawFetchMs = await rawUp(`${rawTable}-f`, items, ternBatch);
  };
  if (round % 2) {
    await runTern();
    await runRaw();
  } else {
    await runRaw();
    await runTern();
  }
  up.raw.push(N / rawMs * 1000);
  up.rawFetch.push(N / rawFetchMs * 1000);
  up.tern.push(N / ternMs * 1000);

  // Down: N notices for this device, read by a raw Query loop and by Tern (read + apply).
  const notices = Array.from({ length: N }, (_, i) =>
    toAttributes({
      pk: `Notice#d${round}`,
      sk: `n${i}`,
      _model: "Notice",
      _to: `d${round}`,
      updated: new Date(T0 + i).toISOString(),
      _version: 1,
      target: `d${round}`,
      id: `n${i}`,
      text: `notice ${i}`,
    }));
  await rawUp(table, notices);
  const rd = await rawDown(table, `d${round}`);
  if (rd.read !== N) throw new Error(`raw read ${rd.read}`);
  const t2 = performance.now();
  const d = await agent.engine.syncNow(undefined, "down");
  const ternDown = performance.now() - t2;
  if (d.down.applied !== N) throw new Error(`Tern applied ${d.down.applied} of ${N}`);
  down.raw.push(N / rd.ms * 1000);
  down.tern.push(N / ternDown * 1000);
  await agent.close();
  console.log(
    `round ${round + 1}: up raw ${up.raw.at(-1)!.toFixed(0)}/s raw-fetch ${
      up.rawFetch.at(-1)!.toFixed(0)
    }/s tern ${up.tern.at(-1)!.toFixed(0)}/s; ` +
      `down raw ${down.raw.at(-1)!.toFixed(0)}/s tern ${down.tern.at(-1)!.toFixed(0)}/s`,
  );
}
await Deno.remove(dir, { recursive: true });
await fetchClient[Symbol.asyncDispose]();

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const row = (name: string, t: number[], r: number[], raw: string) =>
  `| ${name} | ${fmt(median(t))} | ${raw} ${fmt(median(r))} | ${
    (median(t) / median(r)).toFixed(2)
  } |`;
const load = Deno.loadavg().map((x) => x.toFixed(2)).join(", ");
const table = [
  "## Sync (sync/ vs raw DynamoDB calls, dynalite in-process)",
  "",
  `Command: \`deno run --allow-all tests/bench/sync_bench.ts --items ${N} --rounds ${ROUNDS}\` ` +
  `(Deno ${Deno.version.deno}, dynalite 4 in memory, on loopback in the same process, ` +
  `${
    N.toLocaleString("en-US")
  } items per round, median of ${ROUNDS} rounds, fresh tables each round; ` +
  `both sides send batches of 25 with ${CONCURRENCY} requests in flight; Tern's client is ` +
  `sync/dynamodb.ts, SigV4 over \`fetch\`; the raw loops use the official SDK with its default ` +
  `handler (\`node:http\`) and Tern's client). Load average: ${load}.`,
  "",
  "| case | Tern items/s | raw items/s | ratio (Tern / raw) |",
  "|---|---:|---:|---:|",
  row(
    "up: change log → BatchWriteItem",
    up.tern,
    up.raw,
    "BatchWriteItem loop, official SDK",
  ),
  row(
    "up: change log → BatchWriteItem",
    up.tern,
    up.rawFetch,
    "BatchWriteItem loop, same client as Tern",
  ),
  row("down: index Query → apply on the device", down.tern, down.raw, "Query loop (read only)"),
  "",
  "Up includes reading the change log, coalescing, reading each item, marshalling and moving the " +
  "cursor; the raw loop only sends prebuilt items. Down includes applying every item in SQLite " +
  "with origin `cloud` (one transaction per page); the raw loop only reads the pages. dynalite is " +
  "the bottleneck of both sides and runs in the same process, so the absolute numbers are far " +
  "below DynamoDB's; the ratio is what this measures.",
].join("\n");
console.log("\n" + table);
const out = join(new URL(".", import.meta.url).pathname, "results", "sync.md");
Deno.writeTextFileSync(out, table + "\n");
