import assert from "node:assert/strict";
import { fromFileUrl } from "./path.ts";
import { clearProvidedLater, later, LATER_MODULES, laterReadPaths, provideLater } from "./later.ts";

const root = new URL("../", import.meta.url);

Deno.test("every later module exists, and from source its directory is among the read paths", () => {
  const reads = laterReadPaths();
  for (const m of LATER_MODULES) {
    assert.ok(Deno.statSync(new URL(m, root)).isFile, m);
    assert.ok(reads.some((d) => fromFileUrl(new URL(m, root)).startsWith(d + "/")), m);
  }
});

Deno.test("later() imports from source, or through the registered importers (no read paths then)", async () => {
  const mod = await later<{ mqttService: { name: string } }>("lib/mqtt/mod.ts");
  assert.equal(mod.mqttService.name, "mqtt");
  const calls: string[] = [];
  provideLater(
    Object.fromEntries(
      LATER_MODULES.map((m) => [m, () => (calls.push(m), Promise.resolve({ provided: m }))]),
    ) as never,
  );
  try {
    assert.deepEqual(await later("sync/status_mod.ts"), { provided: "sync/status_mod.ts" });
    assert.deepEqual(calls, ["sync/status_mod.ts"]);
    assert.deepEqual(laterReadPaths(), []);
  } finally {
    clearProvidedLater();
  }
});
