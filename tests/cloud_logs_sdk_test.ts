/**
 * Wire conformance: the same events sent by our sender (lib/aws SigV4 +
 * JSON-API caller) and by the official `@aws-sdk/client-cloudwatch-logs`
 * to the same SigV4-verifying endpoint in front of moto. Both requests pass
 * the signature check, carry the same target, content type and JSON body,
 * and land as the same events in moto.
 */

import assert from "node:assert/strict";
import { CloudWatchLogsClient, PutLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";

import { systemClock } from "../lib/clock.ts";
import { eventRecord, LogSender } from "../lib/cloud/logs/mod.ts";
import { Spool } from "../lib/cloud/mod.ts";
import { Database } from "../lib/db/mod.ts";
import { nullLogger } from "../lib/log/mod.ts";
import {
  getLogEvents,
  logsClient,
  MOTO_CREDENTIALS,
  MOTO_REGION,
  startLogsEndpoint,
  startMoto,
} from "./helpers/moto.ts";

Deno.test("our PutLogEvents is the SDK's: same target, content type and body, both verified", async () => {
  await using moto = await startMoto();
  await using ep = await startLogsEndpoint(moto);
  const group = "/tern/sdk";
  await moto.logs("CreateLogGroup", { logGroupName: group });
  for (const s of ["ours", "sdk"]) {
    await moto.logs("CreateLogStream", { logGroupName: group, logStreamName: s });
  }
  const now = Date.now();
  const events = [
    { timestamp: now - 2000, message: "plain ascii" },
    { timestamp: now - 1000, message: 'unicode é ✓ 漢字 and "quotes" \\ slash' },
    { timestamp: now, message: '{"json":true,"n":1}' },
  ];
  using db = Database.open({ path: ":memory:", purgeInterval: 0 });
  const stream = Spool.of(db, { clock: systemClock, log: nullLogger }).stream("logs.sdk");
  stream.append(
    events.map((e) => eventRecord(group, "ours", e.message, e.timestamp)),
  );
  await using client = logsClient(ep.url);
  const sender = new LogSender({ stream, client, clock: systemClock, log: nullLogger });
  assert.equal(await sender.step(), "sent");

  const sdk = new CloudWatchLogsClient({
    region: MOTO_REGION,
    endpoint: ep.url,
    credentials: MOTO_CREDENTIALS,
  });
  try {
    await sdk.send(
      new PutLogEventsCommand({ logGroupName: group, logStreamName: "sdk", logEvents: events }),
    );
  } finally {
    sdk.destroy();
  }
  const puts = ep.requests.filter((r) => r.target === "Logs_20140328.PutLogEvents");
  assert.equal(puts.length, 2);
  const [ours, theirs] = puts as [typeof puts[0], typeof puts[0]];
  assert.equal(ours.headers.get("content-type"), theirs.headers.get("content-type"));
  assert.equal(ours.url.pathname, theirs.url.pathname);
  assert.deepEqual(
    { ...(ours.json as object), logStreamName: "x" },
    { ...(theirs.json as object), logStreamName: "x" },
  );
  assert.equal(ep.rejected, 0, "both signatures verified");
  const strip = (l: { timestamp: number; message: string }[]) =>
    l.map((e) => [e.timestamp, e.message]);
  assert.deepEqual(strip(await getLogEvents(moto, group, "ours")), strip(events));
  assert.deepEqual(strip(await getLogEvents(moto, group, "sdk")), strip(events));
});
