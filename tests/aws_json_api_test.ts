/**
 * The AWS JSON-protocol caller against a local endpoint that verifies SigV4
 * with the AWS SDK's signer (tests/helpers/aws_sigv4_server.ts): target and
 * content type on the wire, session tokens, AWS error mapping, throttling
 * retries on fake time, and a wrong secret being refused.
 */

import assert from "node:assert/strict";
import { FakeClock } from "../lib/clock.ts";
import { AwsApiError, AwsJsonClient, staticCredentials } from "../lib/aws/mod.ts";
import { startAwsServer } from "./helpers/aws_sigv4_server.ts";

const KEYS = { AKIDTERNTEST0001: "tern-test-secret-key-0001" };
const creds = (secretAccessKey = KEYS.AKIDTERNTEST0001, sessionToken?: string) =>
  staticCredentials({
    accessKeyId: "AKIDTERNTEST0001",
    secretAccessKey,
    ...(sessionToken ? { sessionToken } : {}),
  });

Deno.test("call() sends a signed X-Amz-Target request and parses the reply", async () => {
  await using aws = await startAwsServer({
    keys: KEYS,
    region: "eu-west-1",
    service: "logs",
    handler: (r) => Response.json({ nextSequenceToken: "n1", echo: r.json }),
  });
  await using logs = new AwsJsonClient({
    service: "logs",
    region: "eu-west-1",
    targetPrefix: "Logs_20140328",
    endpoint: aws.url,
    credentials: creds(undefined, "session-token-xyz"),
  });
  const input = {
    logGroupName: "tern",
    logStreamName: "dev/1",
    logEvents: [{ timestamp: 1, message: "é ✓" }],
  };
  const out = await logs.call<{ nextSequenceToken: string; echo: unknown }>("PutLogEvents", input);
  assert.deepEqual(out, { nextSequenceToken: "n1", echo: input });
  const [r] = aws.requests;
  assert.equal(r!.target, "Logs_20140328.PutLogEvents");
  assert.equal(r!.headers.get("content-type"), "application/x-amz-json-1.1");
  assert.equal(r!.sessionToken, "session-token-xyz");
  assert.equal(aws.rejected, 0);
});

Deno.test("AWS errors become AwsApiError with the type, status and message", async () => {
  await using aws = await startAwsServer({
    keys: KEYS,
    region: "eu-west-1",
    service: "logs",
    handler: () =>
      Response.json({
        __type: "com.amazonaws.logs#ResourceNotFoundException",
        message: "The specified log group does not exist.",
      }, { status: 400, headers: { "x-amzn-requestid": "req-1" } }),
  });
  await using logs = new AwsJsonClient({
    service: "logs",
    region: "eu-west-1",
    targetPrefix: "Logs_20140328",
    endpoint: aws.url,
    credentials: creds(),
  });
  const err = await logs.call("CreateLogStream", { logGroupName: "nope" }).catch((e) => e);
  assert.ok(err instanceof AwsApiError);
  assert.equal(err.type, "ResourceNotFoundException");
  assert.equal(err.status, 400);
  assert.equal(err.requestId, "req-1");
  assert.equal(
    err.message,
    "logs CreateLogStream failed with ResourceNotFoundException (400): The specified log group does not exist.",
  );
  assert.equal(aws.requests.length, 1, "not retried");
});

Deno.test("throttling is retried with backoff, each attempt signed afresh", async () => {
  const clock = new FakeClock(Date.now());
  await using aws = await startAwsServer({
    keys: KEYS,
    region: "us-east-1",
    service: "monitoring",
    now: () => clock.now(),
    handler: (r) =>
      aws.requests.length < 3
        ? Response.json({ __type: "ThrottlingException", message: "Rate exceeded" }, {
          status: 400,
        })
        : Response.json({ ok: r.headers.get("x-amz-date") }),
  });
  await using cw = new AwsJsonClient({
    service: "monitoring",
    region: "us-east-1",
    targetPrefix: "GraniteServiceVersion20100801",
    jsonVersion: "1.0",
    endpoint: aws.url,
    credentials: creds(),
    clock,
    random: () => 1,
    retryMinMs: 1000,
  });
  const p = cw.call<{ ok: string }>("PutMetricData", { Namespace: "Tern" });
  await clock.waitForSleepers(1);
  await clock.advance(1000);
  await clock.waitForSleepers(1);
  await clock.advance(2000);
  const out = await p;
  assert.equal(aws.requests.length, 3);
  const dates = aws.requests.map((r) => r.headers.get("x-amz-date"));
  assert.notEqual(dates[0], dates[2], "re-signed with the new time");
  assert.equal(out.ok, dates[2]);
  assert.equal(aws.requests[0]!.headers.get("content-type"), "application/x-amz-json-1.0");
});

Deno.test("a wrong secret is refused by the verifying endpoint", async () => {
  await using aws = await startAwsServer({
    keys: KEYS,
    region: "eu-west-1",
    service: "logs",
    handler: () => Response.json({}),
  });
  await using logs = new AwsJsonClient({
    service: "logs",
    region: "eu-west-1",
    targetPrefix: "Logs_20140328",
    endpoint: aws.url,
    credentials: creds("not-the-right-secret-key"),
  });
  const err = await logs.call("DescribeLogGroups").catch((e) => e);
  assert.ok(err instanceof AwsApiError);
  assert.equal(err.type, "InvalidSignatureException");
  assert.equal(err.status, 403);
  assert.equal(aws.rejected, 1);
});

Deno.test("a device clock an hour off is corrected from AWS's Date header and the call retried", async () => {
  const device = new FakeClock(Date.UTC(2026, 0, 1));
  const awsTime = () => device.now() + 3_600_000;
  await using aws = await startAwsServer({
    keys: KEYS,
    region: "eu-west-1",
    service: "logs",
    now: awsTime,
    handler: () => Response.json({ ok: true }),
  });
  await using logs = new AwsJsonClient({
    service: "logs",
    region: "eu-west-1",
    targetPrefix: "Logs_20140328",
    endpoint: aws.url,
    credentials: creds(),
    clock: device,
  });
  assert.deepEqual(await logs.call("DescribeLogGroups"), { ok: true });
  assert.equal(aws.rejected, 1);
  assert.equal(aws.requests.length, 1);
  assert.ok(Math.abs(logs.clockSkewMs - 3_600_000) < 1000, String(logs.clockSkewMs));
  assert.deepEqual(await logs.call("DescribeLogGroups"), { ok: true });
  assert.equal(aws.rejected, 1, "the second call is signed with the corrected time");
});
