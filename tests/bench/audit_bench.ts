/**
 * The audit trail's costs: recording an event inside a write transaction
 * (chain append with SHA-256, and the spool append of one destination)
 * against the bare write, and the shipping rate of the CloudTrail sender to
 * the local CloudTrail Data endpoint (SigV4-verified and model-validated on
 * loopback: a lower bound of the sender's own rate).
 *
 * Command: `deno run --allow-all tests/bench/audit_bench.ts [--n 2000] [--rounds 5]`
 */

import { parseArgs } from "node:util";
import { systemClock } from "../../lib/clock.ts";
import { AwsJsonClient, staticCredentials } from "../../lib/aws/mod.ts";
import { AuditTrail } from "../../lib/cloud/audit/trail.ts";
import { auditDestinations } from "../../lib/cloud/audit/destinations.ts";
import { CloudTrailSender } from "../../lib/cloud/audit/cloudtrail.ts";
import { Spool } from "../../lib/cloud/spool.ts";
import { configSchema } from "../../lib/config/mod.ts";
import { Database } from "../../lib/db/mod.ts";
import { nullLogger } from "../../lib/log/mod.ts";
import { startCloudTrailData } from "../helpers/cloudtrail_data.ts";
import { MOTO_CREDENTIALS, MOTO_REGION } from "../helpers/moto.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { n: { type: "string", default: "2000" }, rounds: { type: "string", default: "5" } },
});
const N = Number(values.n);
const ROUNDS = Number(values.rounds);
const CHANNEL = "arn:aws:cloudtrail:eu-west-1:123456789012:channel/bench";
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = await Deno.makeTempDir({ prefix: "tern_audit_bench_" });
const config = configSchema.parse({
  audit: { cloudtrail: { enabled: true, channelArn: CHANNEL } },
});
const db = Database.open({
  path: `${dir}/tern.db`,
  schema: { Door: { pk: "Door#${id}", fields: { id: { type: "string", required: true } } } },
  purgeInterval: 0,
});
const spool = Spool.of(db, { clock: systemClock, log: nullLogger });
const trail = new AuditTrail({
  db,
  clock: systemClock,
  device: "bench",
  destinations: auditDestinations(config, spool, "bench"),
});

let k = 0;
const bare: number[] = [];
const audited: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  let t = performance.now();
  for (let i = 0; i < N; i++) db.transaction(() => db.create("Door", { id: `b${k++}` }));
  bare.push(N / ((performance.now() - t) / 1000));
  t = performance.now();
  for (let i = 0; i < N; i++) {
    db.transaction(() => {
      db.create("Door", { id: `a${k++}` });
      trail.record({
        actor: { type: "user", id: "admin" },
        source: "192.0.2.1",
        action: "data.create",
        target: `model:Door/${k}`,
        details: { fields: ["id"] },
      });
    });
  }
  audited.push(N / ((performance.now() - t) / 1000));
}
const b = median(bare);
const a = median(audited);
console.log(`| write alone (one transaction each) | ${Math.round(b).toLocaleString("en")} |`);
console.log(`| write + audit event (chain + spool) | ${Math.round(a).toLocaleString("en")} |`);
console.log(
  `| ratio | ${(a / b).toFixed(2)} | per event +${((1 / a - 1 / b) * 1e6).toFixed(0)} µs |`,
);

// Shipping: drain the CloudTrail stream (ROUNDS × N events) to the local endpoint.
await using ct = await startCloudTrailData();
const stream = spool.stream("audit.cloudtrail");
const sender = new CloudTrailSender({
  stream,
  client: new AwsJsonClient({
    service: "cloudtrail-data",
    region: MOTO_REGION,
    targetPrefix: "",
    endpoint: ct.url,
    credentials: staticCredentials(MOTO_CREDENTIALS),
    retries: 0,
  }),
  channelArn: CHANNEL,
  clock: systemClock,
  log: nullLogger,
});
const waiting = stream.backlog;
const t = performance.now();
while ((await sender.step()) !== "idle") { /* next batch */ }
const s = (performance.now() - t) / 1000;
console.log(
  `| shipping to the local CloudTrail Data endpoint | ${waiting} events in ${s.toFixed(2)} s | ${
    Math.round(waiting / s).toLocaleString("en")
  } events/s | ${sender.batches} calls, invalid ${ct.invalid.length} |`,
);
db.close();
await Deno.remove(dir, { recursive: true });
