/**
 * The "aws" service as the agent runs it: built from config by its factory,
 * started against a local mTLS IoT credential provider, sharing one provider,
 * registering secrets with the agent's redactor, reporting status.
 */

import assert from "node:assert/strict";
import { FakeClock } from "../lib/clock.ts";
import { configSchema } from "../lib/config/mod.ts";
import { type AwsService, awsService } from "../lib/aws/mod.ts";
import { LogHub, RingSink } from "../lib/log/mod.ts";
import type { ServiceContext } from "../lib/service.ts";
import { makeTlsFixtures } from "./helpers/tls.ts";
import { startIotCredentialsServer } from "./helpers/aws_iot_credentials_server.ts";

Deno.test("the aws service serves IoT credentials from config and registers their secrets", async () => {
  await using tls = await makeTlsFixtures();
  const clock = new FakeClock();
  await using iot = await startIotCredentialsServer(tls, { now: () => clock.now() });
  const config = configSchema.parse({
    aws: {
      region: "eu-west-1",
      iot: { credentialsEndpoint: iot.endpoint, roleAlias: "tern-role" },
    },
    mqtt: { cert: "client.crt", key: "client.key", ca: "ca.crt" },
  });
  assert.equal(awsService.enabled(configSchema.parse({})), false);
  assert.equal(awsService.enabled(config), true);
  const hub = new LogHub({ sinks: [new RingSink()] });
  const ctx = {
    config,
    configDir: tls.dir,
    log: hub.logger("aws"),
    clock,
    deviceId: "dev-7",
    redactor: hub.redactor,
  } as unknown as ServiceContext;
  await using svc = await awsService.create(ctx) as AwsService;
  await assert.rejects(svc.provider(), /not started/);
  const stop = new AbortController();
  await svc.start(stop.signal);
  const creds = await svc.provider();
  assert.equal(creds.sessionToken, "session-token-number-1");
  assert.equal(iot.requests[0]!.thing, "dev-7");
  assert.equal(
    hub.redactor.text("x secret-key-number-1 session-token-number-1"),
    "x [redacted] [redacted]",
  );
  const status = svc.status!() as { sources: string[]; iot: { valid: boolean } };
  assert.deepEqual(status.sources, ["iot"]);
  assert.equal(status.iot.valid, true);
  assert.equal(svc.region, "eu-west-1");
  stop.abort();
});
