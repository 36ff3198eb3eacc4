import assert from "node:assert/strict";
import { defaultConfig, derivePermissions, permissionFlags } from "./mod.ts";
import { configSchema } from "./schema.ts";

const base = { configDir: "/etc/tern", stateDir: "/var/lib/tern" };

Deno.test("the default config needs only its config dir, state dir, site, port 8080 and TERN_* vars", () => {
  const needs = derivePermissions(defaultConfig(), base);
  const site = new URL("../../routes/site", import.meta.url).pathname;
  assert.deepEqual(needs.read, ["/etc/tern", site, "/var/lib/tern"].sort());
  assert.deepEqual(needs.write, ["/var/lib/tern"]);
  assert.deepEqual(needs.net, ["127.0.0.1:8080"]);
  assert.ok(needs.env.every((v) => v.startsWith("TERN_")), needs.env.join());
  const flags = permissionFlags(needs);
  assert.ok(flags.includes("--allow-net=127.0.0.1:8080"));
  assert.ok(flags.every((f) => f !== "-A" && !f.startsWith("--allow-all") && f.includes("=")));
});

Deno.test("listen endpoints, TLS files and the MQTT broker add exactly their hosts and files", () => {
  const config = configSchema.parse({
    web: {
      listen: ["http://0.0.0.0:80", "https://[::]:8443"],
      tls: { cert: "certs/web.crt", key: "/opt/keys/web.key" },
    },
    mqtt: {
      enabled: true,
      url: "mqtts://abc-ats.iot.eu-west-1.amazonaws.com:8883",
      cert: "certs/device.crt",
      key: "certs/device.key",
      ca: "certs/root.pem",
    },
  });
  const needs = derivePermissions(config, base);
  assert.ok(needs.net.includes("0.0.0.0:80"));
  assert.ok(needs.net.includes("[::]:8443"));
  assert.ok(needs.net.includes("abc-ats.iot.eu-west-1.amazonaws.com:8883"));
  assert.ok(needs.read.includes("/opt/keys/web.key"));
  // Files under the config dir are covered by its read permission.
  assert.ok(!needs.read.includes("/etc/tern/certs/web.crt"));
  assert.ok(!needs.write.includes("/etc/tern"));
});

Deno.test("a disabled web server asks for no network", () => {
  const config = configSchema.parse({ web: { enabled: false } });
  assert.deepEqual(derivePermissions(config, base).net, []);
});
