/**
 * The `aws` and `http` config sections: defaults, validation, and the exact
 * permissions they add.
 */

import assert from "node:assert/strict";
import { configSchema, derivePermissions } from "../lib/config/mod.ts";

const base = { configDir: "/etc/tern", stateDir: "/var/lib/tern" };

Deno.test("aws.iot adds the credentials endpoint on 443 and its cert files", () => {
  const config = configSchema.parse({
    aws: {
      region: "eu-west-1",
      useEnv: true,
      iot: {
        credentialsEndpoint: "c2abc.credentials.iot.eu-west-1.amazonaws.com",
        roleAlias: "tern-role",
        cert: "certs/device.crt",
        key: "/opt/keys/device.key",
      },
    },
    http: { proxy: "http://proxy.lan:3128", ca: "certs/corp.pem" },
  });
  assert.equal(config.aws.iot?.refreshBeforeMs, 300_000);
  const needs = derivePermissions(config, base);
  assert.ok(needs.net.includes("c2abc.credentials.iot.eu-west-1.amazonaws.com:443"));
  assert.ok(needs.net.includes("proxy.lan:3128"));
  assert.ok(needs.env.includes("AWS_SESSION_TOKEN"));
  assert.ok(needs.read.includes("/opt/keys/device.key"));
});

Deno.test("http defaults need no permissions; bad values are refused", () => {
  const config = configSchema.parse({});
  assert.deepEqual(config.http, {
    timeoutMs: 60_000,
    headersTimeoutMs: 10_000,
    retries: 2,
    maxResponseBytes: 16 * 1024 * 1024,
    proxy: "env",
  });
  const needs = derivePermissions(config, base);
  assert.ok(!needs.env.some((v) => /proxy/i.test(v)));
  assert.throws(() => configSchema.parse({ http: { proxy: "socks://x" } }));
  assert.throws(() =>
    configSchema.parse({ aws: { iot: { credentialsEndpoint: "https://x/", roleAlias: "r" } } })
  );
});
