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
import { until } from "./helpers/wait.ts";

/** A config with the IoT credential provider at `endpoint`, plus `more` sections. */
function iotConfig(endpoint: string, more: Record<string, unknown>) {
  return configSchema.parse({
    aws: { region: "eu-west-1", iot: { credentialsEndpoint: endpoint, roleAlias: "tern-role" } },
    ...more,
  });
}

/** A service context as the agent gives one, over `config` and a fresh log hub. */
function serviceContext(
  config: ReturnType<typeof configSchema.parse>,
  configDir: string,
  clock: FakeClock,
  more: Partial<ServiceContext> = {},
) {
  const hub = new LogHub({ sinks: [new RingSink()] });
  const ctx = {
    config,
    configDir,
    log: hub.logger("aws"),
    clock,
    deviceId: "dev-7",
    redactor: hub.redactor,
    ...more,
  } as unknown as ServiceContext;
  return { hub, ctx };
}

Deno.test("the aws service serves IoT credentials from config and registers their secrets", async () => {
  await using tls = await makeTlsFixtures();
  const clock = new FakeClock();
  await using iot = await startIotCredentialsServer(tls, { now: () => clock.now() });
  const config = iotConfig(iot.endpoint, {
    mqtt: { cert: "client.crt", key: "client.key", ca: "ca.crt" },
  });
  assert.equal(awsService.enabled(configSchema.parse({})), false);
  assert.equal(awsService.enabled(config), true);
  const { hub, ctx } = serviceContext(config, tls.dir, clock);
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

/** A client certificate with common name `cn` signed by the fixtures' CA (a rotated identity). */
async function otherClientCert(tls: Awaited<ReturnType<typeof makeTlsFixtures>>, cn: string) {
  const run = async (args: string[]) => {
    const r = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" }).output();
    if (!r.success) throw new Error(new TextDecoder().decode(r.stderr));
  };
  const p = (f: string) => `${tls.dir}/${cn}.${f}`;
  await run([
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    p("key"),
  ]);
  await run(["req", "-new", "-key", p("key"), "-subj", `/CN=${cn}`, "-out", p("csr")]);
  await Deno.writeTextFile(p("ext"), "extendedKeyUsage=clientAuth\n");
  await run([
    "x509",
    "-req",
    "-in",
    p("csr"),
    "-CA",
    tls.paths.caCert,
    "-CAkey",
    tls.paths.caKey,
    "-CAcreateserial",
    "-days",
    "2",
    "-sha256",
    "-extfile",
    p("ext"),
    "-out",
    p("crt"),
  ]);
  return { certPem: await Deno.readTextFile(p("crt")), keyPem: await Deno.readTextFile(p("key")) };
}

Deno.test("with provisioning, IoT credentials come from the provisioned identity, rotated ones too", async () => {
  await using tls = await makeTlsFixtures();
  const clock = new FakeClock();
  await using iot = await startIotCredentialsServer(tls, { now: () => clock.now() });
  // No certificate in config: the identity is provisioning's.
  const config = iotConfig(iot.endpoint, {
    mqtt: { ca: "ca.crt" },
    provision: { enabled: true, template: "tern-fleet" },
  });
  let identity: { certPem: string; keyPem: string; thing: string } | undefined;
  const { ctx } = serviceContext(config, tls.dir, clock, {
    get: <T>(name: string) => {
      assert.equal(name, "provision");
      return { identity: () => identity } as T;
    },
  });

  // Not provisioned yet: the service starts, credentials are unavailable, nothing is asked.
  {
    await using svc = await awsService.create(ctx) as AwsService;
    const stop = new AbortController();
    await svc.start(stop.signal);
    await assert.rejects(svc.provider(), /no identity yet/);
    assert.equal(iot.requests.length, 0);
    stop.abort();
  }

  identity = { certPem: tls.clientCert, keyPem: tls.clientKey, thing: "pump-0042" };
  await using svc = await awsService.create(ctx) as AwsService;
  const stop = new AbortController();
  await svc.start(stop.signal);
  assert.equal((await svc.provider()).sessionToken, "session-token-number-1");
  assert.deepEqual(iot.requests.at(-1), {
    path: "/role-aliases/tern-role/credentials",
    thing: "pump-0042",
    cn: "tern-device",
  });

  // Rotation installs another certificate: the next refresh presents it.
  identity = { ...await otherClientCert(tls, "tern-device-rotated"), thing: "pump-0042" };
  const before = iot.requests.length;
  await clock.advance(900_000);
  await until(() => iot.requests.length > before, { what: "the refresh" });
  assert.equal(iot.requests.at(-1)!.cn, "tern-device-rotated");
  assert.equal(iot.requests.at(-1)!.thing, "pump-0042");
  assert.match((await svc.provider()).sessionToken!, /^session-token-number-\d+$/);
  stop.abort();
});
