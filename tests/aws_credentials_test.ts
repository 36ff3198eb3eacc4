/**
 * AWS credential providers against a real AWS-IoT-style credential endpoint:
 * a local node:https server that requires a client certificate (from
 * makeTlsFixtures), checks the thing-name header and role alias, and returns
 * credentials with a short expiry on the test's FakeClock. Proves refresh
 * before expiry, backoff on failure without storms, secrets registered with
 * the log redactor, and the AWS SDK provider shape.
 */

import assert from "node:assert/strict";
import { FakeClock } from "../lib/clock.ts";
import { LogHub, RingSink } from "../lib/log/mod.ts";
import {
  chainCredentials,
  CredentialsError,
  envCredentials,
  IotCredentials,
  RefreshingCredentials,
  staticCredentials,
} from "../lib/aws/mod.ts";
import { makeTlsFixtures } from "./helpers/tls.ts";
import { startIotCredentialsServer } from "./helpers/aws_iot_credentials_server.ts";
import { until } from "./helpers/wait.ts";

const LIFETIME = 15 * 60_000;

/** Wait (real time, bounded) until `cond` holds: the fetch runs over a real socket. */

Deno.test("IoT credentials: mTLS fetch, refresh before expiry, backoff on failure, secrets redacted", async () => {
  await using tls = await makeTlsFixtures();
  const clock = new FakeClock();
  await using srv = await startIotCredentialsServer(tls, {
    now: () => clock.now(),
    lifetimeMs: LIFETIME,
  });
  const ring = new RingSink();
  const hub = new LogHub({ sinks: [ring], level: "debug", now: () => clock.now() });
  const onSecret = (s: string) => hub.redactor.add(s);
  await using iot = new IotCredentials({
    endpoint: srv.endpoint,
    roleAlias: "tern-role",
    thingName: "pump-0042",
    cert: tls.clientCert,
    key: tls.clientKey,
    caCerts: [tls.caCert],
    onSecret,
  });
  await using creds = new RefreshingCredentials(iot.fetch, {
    clock,
    random: () => 0.5,
    refreshBeforeMs: 60_000,
    jitterMs: 60_000,
    backoffMinMs: 1000,
    logger: hub.logger("aws"),
    onSecret,
  });

  // The SDK shape: a function returning a promise of credentials.
  const first = await creds.provider();
  assert.equal(first.accessKeyId, "ASIAEXAMPLE1");
  assert.equal(first.expiration!.getTime(), clock.now() + LIFETIME);
  assert.deepEqual(srv.requests[0], {
    path: "/role-aliases/tern-role/credentials",
    thing: "pump-0042",
    cn: "tern-device",
  });
  assert.equal((await creds.get()).accessKeyId, "ASIAEXAMPLE1", "cached, not fetched again");
  assert.equal(srv.requests.length, 1);

  // Background refresh: due at expiry - (60 s + 0.5 * 60 s) = 13.5 min.
  creds.start();
  await clock.waitForSleepers(1);
  await clock.advance(LIFETIME - 90_000 - 1);
  assert.equal(srv.requests.length, 1);
  await clock.advance(1);
  await until(() => srv.requests.length === 2, { what: "the refresh" });
  await until(() => clock.pending === 1, { what: "the loop to sleep again" });
  const second = await creds.get();
  assert.equal(second.accessKeyId, "ASIAEXAMPLE2");
  assert.ok(clock.now() < first.expiration!.getTime(), "refreshed before the old ones expired");

  // The endpoint fails: the old credentials stay in use, attempts back off 500, 1000, 2000 ms.
  srv.status = 503;
  await clock.advance(LIFETIME - 90_000);
  await until(() => srv.requests.length === 3, { what: "the failing refresh" });
  await until(() => clock.pending === 1, { what: "the loop to back off" });
  assert.equal((await creds.get()).accessKeyId, "ASIAEXAMPLE2", "still valid: still served");
  for (let i = 0; i < 20; i++) await creds.get(); // no storm: served from cache during backoff
  assert.equal(srv.requests.length, 3);
  for (const [wait, total] of [[500, 4], [1000, 5], [2000, 6]] as const) {
    await clock.advance(wait - 1);
    assert.equal(srv.requests.length, total - 1, `nothing before ${wait} ms`);
    await clock.advance(1);
    await until(() => srv.requests.length === total, { what: `attempt ${total}` });
    await until(() => clock.pending === 1, { what: "the loop to back off" });
  }
  assert.equal(creds.status().failures, 4);
  assert.match(creds.status().lastError ?? "", /status 503/);

  // Recovery.
  srv.status = 200;
  await clock.advance(4000);
  await until(() => srv.requests.length === 7, { what: "the recovery" });
  await until(() => clock.pending === 1, { what: "the loop to sleep" });
  assert.equal((await creds.get()).accessKeyId, "ASIAEXAMPLE7");
  assert.equal(creds.status().failures, 0);

  // No secret reached the log, even when logged on purpose.
  hub.logger("test").info(`oops ${second.secretAccessKey}`, { token: second.sessionToken });
  const text = JSON.stringify(ring.entries());
  for (const n of [1, 2, 7]) {
    assert.doesNotMatch(text, new RegExp(`secret-key-number-${n}\\b|session-token-number-${n}\\b`));
  }
  assert.match(text, /oops \[redacted\]/);
});

Deno.test("IoT credentials: a client certificate from another CA is refused", async () => {
  await using tls = await makeTlsFixtures();
  await using other = await makeTlsFixtures();
  await using srv = await startIotCredentialsServer(tls);
  await using iot = new IotCredentials({
    endpoint: srv.endpoint,
    roleAlias: "tern-role",
    thingName: "pump-0042",
    cert: other.clientCert,
    key: other.clientKey,
    caCerts: [tls.caCert],
  });
  const err = await iot.fetch().catch((e) => e);
  assert.ok(err instanceof CredentialsError);
  assert.equal(err.code, "CREDENTIALS_FAILED");
  assert.match(err.message, /role alias "tern-role" and thing "pump-0042"/);
  assert.equal(srv.requests.length, 0);
});

Deno.test("expired credentials with the endpoint down fail fast during backoff", async () => {
  const clock = new FakeClock();
  let calls = 0;
  await using creds = new RefreshingCredentials(() => {
    calls++;
    return calls === 1
      ? Promise.resolve({
        accessKeyId: "AKIA1",
        secretAccessKey: "s1s1s1s1",
        expiration: new Date(clock.now() + 10_000),
      })
      : Promise.reject(new Error("connection refused"));
  }, { clock, random: () => 1, backoffMinMs: 1000 });
  await creds.get();
  await clock.advance(10_000); // expired now
  await assert.rejects(creds.get(), /connection refused/);
  await assert.rejects(creds.get(), (e: CredentialsError) => e.code === "CREDENTIALS_FAILED");
  assert.equal(calls, 2, "the second get() did not call the endpoint again");
  await clock.advance(1000);
  await assert.rejects(creds.get());
  assert.equal(calls, 3);
});

Deno.test("chainCredentials() falls through static and env providers in order", async () => {
  const seen: string[] = [];
  const env: Record<string, string> = {};
  const chain = chainCredentials([
    {
      name: "env",
      provider: envCredentials({ env: (n) => env[n], onSecret: (s) => seen.push(s) }),
    },
    {
      name: "static",
      provider: staticCredentials(
        { accessKeyId: "AKIASTATIC", secretAccessKey: "static-secret" },
        (s) => seen.push(s),
      ),
    },
  ]);
  assert.equal((await chain()).accessKeyId, "AKIASTATIC");
  Object.assign(env, {
    AWS_ACCESS_KEY_ID: "AKIAENV",
    AWS_SECRET_ACCESS_KEY: "env-secret",
    AWS_SESSION_TOKEN: "env-token",
  });
  assert.deepEqual(await chain(), {
    accessKeyId: "AKIAENV",
    secretAccessKey: "env-secret",
    sessionToken: "env-token",
  });
  assert.deepEqual(seen, ["static-secret", "env-secret", "env-token"]);
  const none = chainCredentials([{
    name: "env",
    provider: envCredentials({ env: () => undefined }),
  }]);
  await assert.rejects(
    none(),
    (e: CredentialsError) =>
      e.code === "CREDENTIALS_UNAVAILABLE" && /env: AWS_ACCESS_KEY_ID/.test(e.message),
  );
});
