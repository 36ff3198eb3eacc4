import assert from "node:assert/strict";
import { configSchema, derivePermissions } from "./mod.ts";

Deno.test("provision: a claim needs a template, rotation.at is a share, permissions read the claim files", () => {
  const bad = configSchema.safeParse({
    provision: { enabled: true, claim: { cert: "c", key: "k" } },
  });
  assert.ok(!bad.success);
  assert.match(JSON.stringify(bad.error.issues), /template/);
  assert.ok(!configSchema.safeParse({ provision: { rotation: { at: 1.5 } } }).success);
  const c = configSchema.parse({
    provision: {
      enabled: true,
      claim: { cert: "claim.crt", key: "claim.key" },
      template: "TernFleet",
      parameters: { S: "${serial}" },
    },
  });
  assert.equal(c.provision.rotation.at, 0.8);
  const needs = derivePermissions(c, { configDir: "/etc/tern", stateDir: "/var/lib/tern" });
  for (const p of ["/etc/tern", "/proc/device-tree/serial-number"]) {
    assert.ok(needs.read.includes(p), p);
  }
});
