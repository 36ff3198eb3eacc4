import assert from "node:assert/strict";
import { type Config, configSchema } from "./config/mod.ts";
import { type LazyServiceFactory, LIBRARY_SERVICES } from "./services.ts";

/** The default config, and variants with one feature each (and all of them) turned on. */
function configs(): [string, Config][] {
  const on: [string, (c: Config) => void][] = [
    ["aws", (c) => c.aws.credentials = { accessKeyId: "AKID0000", secretAccessKey: "s" } as never],
    ["provision", (c) => c.provision.enabled = true],
    ["mqtt", (c) => c.mqtt.enabled = true],
    ["sync", (c) => c.sync.enabled = true],
    ["logs", (c) => c.cloud.logs.enabled = true],
    ["metrics", (c) => c.cloud.metrics.enabled = true],
    ["shadow", (c) => c.cloud.shadow.enabled = true],
    ["s3", (c) => c.cloud.s3.enabled = true],
    ["update", (c) => c.update.enabled = true],
  ];
  const base = configSchema.parse({});
  const out: [string, Config][] = [["default", base]];
  for (const [name, set] of on) {
    const c = structuredClone(base);
    set(c);
    out.push([name, c]);
  }
  const all = structuredClone(base);
  for (const [, set] of on) set(all);
  out.push(["all", all]);
  return out;
}

Deno.test("each lazy service entry agrees with its module's factory: name, deps, background, enabled", async () => {
  const lazies = LIBRARY_SERVICES.filter((f): f is LazyServiceFactory => "load" in f);
  assert.ok(lazies.length >= 10, `${lazies.length} lazy services`);
  for (const entry of lazies) {
    const real = await entry.load();
    assert.equal(real.name, entry.name);
    assert.deepEqual([...real.deps ?? []], [...entry.deps ?? []], `deps of ${entry.name}`);
    assert.equal(
      real.background ?? false,
      entry.background ?? false,
      `background of ${entry.name}`,
    );
    for (const [label, config] of configs()) {
      assert.equal(real.enabled(config), entry.enabled(config), `${entry.name} enabled (${label})`);
    }
  }
});
