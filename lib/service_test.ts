import assert from "node:assert/strict";
import { configSchema } from "./config/mod.ts";
import { type ServiceContext, serviceThing, thingName } from "./service.ts";

Deno.test("thingName(): the identity's thing, else device.thing, else the device id", () => {
  const bare = configSchema.parse({});
  assert.equal(thingName(bare, "gen-1"), "gen-1");
  assert.equal(thingName(configSchema.parse({ device: { id: "d1" } }), "gen-1"), "d1");
  const named = configSchema.parse({ device: { id: "d1", thing: "pump-7" } });
  assert.equal(thingName(named, "gen-1"), "pump-7");
  assert.equal(thingName(named, "gen-1", { thing: "pump-0042" }), "pump-0042");
});

Deno.test("serviceThing() asks the provision service only when provisioning is on", () => {
  const asked: string[] = [];
  const ctx = (provision: boolean, thing?: string) =>
    ({
      config: configSchema.parse({ device: { id: "d1" }, provision: { enabled: provision } }),
      deviceId: "d1",
      get: (name: string) => {
        asked.push(name);
        return { identity: () => thing === undefined ? undefined : { thing } };
      },
    }) as unknown as ServiceContext;
  assert.equal(serviceThing(ctx(false, "pump-0042")), "d1");
  assert.deepEqual(asked, []);
  assert.equal(serviceThing(ctx(true, "pump-0042")), "pump-0042");
  // Provisioning on, no identity yet (the first boot): the device id until the next start.
  assert.equal(serviceThing(ctx(true)), "d1");
  assert.deepEqual(asked, ["provision", "provision"]);
});
