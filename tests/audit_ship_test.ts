/**
 * Shipping the audit trail: the real agent ("audit" with both destinations
 * on) sends every event to CloudTrail Lake (the local CloudTrail Data
 * endpoint, which validates each request against botocore's service model
 * behind the SigV4-verifying endpoint) and to a CloudWatch Logs group
 * (moto, through the logs sender). Asserted at the peers: every event
 * arrives once by id, in ≤ 100-event calls, with the documented eventData;
 * the chain verifies from CloudWatch alone; an outage, a per-event
 * Throttling and a refused event are handled (retried, refused for good);
 * no secret leaves the device. Conformance: the aws-sdk v2 CloudTrailData
 * client's request for the same events parses to the same structure as ours.
 */

import assert from "node:assert/strict";
import CloudTrailDataV2 from "aws-sdk/clients/cloudtraildata.js";
import { Agent } from "../lib/agent.ts";
import type { AuditService } from "../lib/cloud/audit/mod.ts";
import { configSchema } from "../lib/config/mod.ts";
import { type AuditEvent, sha256HexSync } from "../lib/db/mod.ts";
import { LogHub, RingSink } from "../lib/log/mod.ts";
import { LIBRARY_SERVICES } from "../lib/services.ts";
import { startCloudTrailData } from "./helpers/cloudtrail_data.ts";
import {
  getLogEvents,
  MOTO_CREDENTIALS,
  MOTO_REGION,
  startLogsEndpoint,
  startMoto,
} from "./helpers/moto.ts";
import { until } from "./helpers/wait.ts";

const CHANNEL =
  "arn:aws:cloudtrail:eu-west-1:123456789012:channel/01234567-89ab-cdef-0123-456789abcdef";
const SECRET = "s3cr3t-door-code-7781";

function config(ct: string, logs: string) {
  return configSchema.parse({
    agent: { mode: "cloud" },
    device: { id: "d1" },
    aws: { region: MOTO_REGION, credentials: MOTO_CREDENTIALS },
    audit: {
      cloudtrail: { enabled: true, channelArn: CHANNEL, endpoint: ct },
      logs: { enabled: true, endpoint: logs, group: "/tern/audit", stream: "{thing}" },
      flushInterval: 20,
      backoff: { min: 10, max: 100 },
      confirmDelay: 0,
      requestTimeout: 2000,
    },
  });
}

Deno.test("audit events reach CloudTrail Lake and CloudWatch Logs once each, within the model and limits", async () => {
  await using moto = await startMoto();
  await using logsEp = await startLogsEndpoint(moto);
  await using ct = await startCloudTrailData();
  const dir = await Deno.makeTempDir({ prefix: "tern_audit_ship_" });
  const ring = new RingSink(500);
  const agent = await Agent.start({
    loaded: {
      config: config(ct.url, logsEp.url),
      configDir: dir,
      stateDir: dir,
      files: [],
      secrets: [SECRET],
    },
    factories: LIBRARY_SERVICES,
    hub: new LogHub({ sinks: [ring], level: "warn" }),
    ring,
  });
  try {
    const audit = agent.get<AuditService>("audit");
    const recorded: AuditEvent[] = [];
    const rec = (i: number) =>
      recorded.push(audit.record({
        actor: { type: "device", id: "door" },
        source: "10.0.0.5",
        action: "app.door.open",
        target: `door:${i}`,
        details: { i, code: SECRET, note: `opened with ${SECRET}` },
      }));
    for (let i = 0; i < 230; i++) rec(i);
    // Bad input: a clear error, nothing stored or shipped.
    assert.throws(
      () => audit.record({ actor: { type: "root" as "user", id: "x" }, action: "a.b" }),
      /actor type/,
    );
    assert.throws(
      () => audit.record({ actor: { type: "user", id: "x" }, action: "Not Valid" }),
      /action/,
    );

    const all = () => audit.trail.log.list({ limit: 10_000 });
    await until(() => ct.events.size === all().length, {
      ms: 20_000,
      what: () =>
        `every event in CloudTrail (${ct.events.size}/${all().length}, invalid ${
          JSON.stringify(ct.invalid.slice(0, 2))
        }, rejected ${ct.server.rejected}, streams ${JSON.stringify(audit.streams())}, log ${
          JSON.stringify(ring.entries().slice(-3))
        })`,
    });
    const group = "/tern/audit";
    await until(
      async () => (await getLogEvents(moto, group, "d1").catch(() => [])).length === all().length,
      { ms: 20_000, what: "every event in CloudWatch Logs" },
    );

    // Outage, then a per-event Throttling once and one event refused for good.
    let down = true;
    ct.fault = () =>
      down
        ? Response.json({ message: "down" }, {
          status: 503,
          headers: { "x-amzn-errortype": "InternalFailure" },
        })
        : undefined;
    for (let i = 230; i < 240; i++) rec(i);
    await until(() => ct.server.requests.length > 0 && audit.streams().some((s) => s.lastError), {
      ms: 5000,
      what: "a failed send",
    });
    const throttleOnce = recorded[233]!.id;
    const refused = recorded[236]!.id;
    let throttled = false;
    ct.eventFault = (id) => {
      if (id === throttleOnce && !throttled) return (throttled = true, "Throttling");
      return id === refused ? "InvalidData" : undefined;
    };
    down = false;
    const want = all().length - 1;
    await until(() => ct.events.size === want && audit.streams()[0]!.backlog === 0, {
      ms: 20_000,
      what: "the backlog after the outage",
    });
    assert.ok(throttled);
    ct.eventFault = undefined;

    // Exactly once by id, everything valid, ≤ 100 per call.
    assert.deepEqual(ct.invalid, []);
    const stored = all();
    const ids = stored.map((e) => e.id).filter((id) => id !== refused);
    assert.deepEqual([...ct.events.keys()].sort(), [...ids].sort());
    const calls = ct.server.requests.filter((r) => r.url.pathname === "/PutAuditEvents");
    for (const r of calls) {
      assert.ok((r.json as { auditEvents: unknown[] }).auditEvents.length <= 100);
      assert.equal(r.url.searchParams.get("channelArn"), CHANNEL);
    }
    const status = audit.streams().find((s) => s.name === "audit.cloudtrail")!;
    assert.equal(status.refused, 1);
    assert.equal(status.backlog, 0);

    // The documented eventData.
    const e = recorded[5]!;
    // deno-lint-ignore no-explicit-any
    const d = ct.events.get(e.id)!.eventData as Record<string, any>;
    assert.equal(d.version, "1.0");
    assert.deepEqual(d.userIdentity, {
      type: "device",
      principalId: "door",
      details: { device: "d1" },
    });
    assert.equal(d.eventSource, "tern:d1");
    assert.equal(d.eventName, "app.door.open");
    assert.equal(d.eventTime, e.time);
    assert.equal(d.UID, e.id);
    assert.equal(d.sourceIPAddress, "10.0.0.5");
    assert.equal(d.recipientAccountId, "123456789012");
    assert.deepEqual(d.requestParameters, {
      target: "door:5",
      i: 5,
      code: "[redacted]",
      note: "opened with [redacted]",
    });
    assert.deepEqual(d.additionalEventData, { seq: e.seq, prev: e.prev, device: "d1" });

    // CloudWatch Logs alone: every event once, and the chain verifies from the messages.
    await until(
      async () => (await getLogEvents(moto, group, "d1")).length === stored.length,
      { ms: 20_000, what: "the events after the outage in CloudWatch Logs" },
    );
    const cw = await getLogEvents(moto, group, "d1");
    const parsed = cw.map((x) => JSON.parse(x.message) as AuditEvent).sort((a, b) => a.seq - b.seq);
    assert.deepEqual(parsed.map((x) => x.id), stored.map((x) => x.id));
    const byMessage = new Map(cw.map((x) => [JSON.parse(x.message).seq, x.message]));
    for (let i = 1; i < parsed.length; i++) {
      assert.equal(parsed[i]!.prev, sha256HexSync(byMessage.get(parsed[i - 1]!.seq)!), `link ${i}`);
    }
    for (const r of [...ct.server.requests, ...logsEp.requests]) {
      assert.ok(!new TextDecoder().decode(r.body).includes(SECRET), "a secret left the device");
    }

    // Conformance: the aws-sdk v2 client's request for the same events parses like ours.
    const ours = calls[0]!;
    const sdk = new CloudTrailDataV2({
      region: MOTO_REGION,
      endpoint: ct.url,
      credentials: MOTO_CREDENTIALS,
      maxRetries: 0,
    });
    const before = ct.server.requests.length;
    const answer = await sdk.putAuditEvents({
      channelArn: CHANNEL,
      auditEvents: (ours.json as { auditEvents: CloudTrailDataV2.AuditEvents }).auditEvents,
    }).promise();
    assert.ok(answer.failed.every((f) => f.errorCode === "DuplicatedAuditEventId"));
    const theirs = ct.server.requests[before]!;
    assert.equal(theirs.method, ours.method);
    assert.equal(theirs.url.pathname, ours.url.pathname);
    assert.deepEqual([...theirs.url.searchParams], [...ours.url.searchParams]);
    assert.deepEqual(theirs.json, ours.json);
    assert.equal(
      theirs.headers.get("content-type")?.split(";")[0],
      ours.headers.get("content-type")?.split(";")[0],
    );
  } finally {
    await agent.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
