/**
 * `tern shadow status|get` in-process on a state directory whose database
 * holds shadow rows as the agent leaves them: version, last sync and what
 * waits to be sent, offline; bad arguments are usage errors.
 */

import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import { join } from "node:path";
import { shadowCommand } from "../lib/cli/shadow.ts";
import { UsageError } from "../lib/cli/mod.ts";
import { Database } from "../lib/db/mod.ts";
import { ShadowStore } from "../lib/cloud/shadow/mod.ts";

function capture() {
  const out: string[] = [];
  return { io: { out: (t: string) => void out.push(t), err: () => {} }, out };
}

Deno.test("tern shadow status and get show each shadow's version, last sync and pending fields", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tern_shadow_cli_" });
  try {
    const config = join(dir, "config"), state = join(dir, "state");
    await Deno.mkdir(config);
    await Deno.writeTextFile(
      join(config, "tern.json5"),
      `{ cloud: { shadow: { enabled: true, shadows: { thermostat: {}, device: { classic: true } } } } }`,
    );
    await Deno.writeTextFile(join(config, "device.json5"), `{ id: "pump-1" }`);
    {
      using db = Database.open({ path: join(state, "tern.db"), purgeInterval: 0 });
      new ShadowStore(db.sql).save("pump-1", "thermostat", {
        desired: { setpoint: 22 },
        reported: { setpoint: 21, t: 20.5 },
        base: { desired: { setpoint: 22 }, reported: { setpoint: 21 } },
        version: 7,
        exists: true,
        synced: Date.UTC(2026, 0, 1),
      });
    }
    const flags = { config, state };
    const a = capture();
    equal(await shadowCommand.run(["status"], flags, a.io), 0);
    match(
      a.out[0]!,
      /thermostat\s+thermostat, both: version 7, last sync 2026-01-01T00:00:00.000Z, 1 field\(s\) waiting/,
    );
    match(a.out[0]!, /device\s+\(classic\), both: version 0, last sync never, 0 field/);
    const b = capture();
    equal(await shadowCommand.run(["get", "thermostat"], flags, b.io), 0);
    const got = JSON.parse(b.out[0]!);
    deepEqual(got.pending, { reported: { t: 20.5 } });
    deepEqual(got.delta, { setpoint: 22 });
    await rejects(() => shadowCommand.run(["get", "nope"], flags, capture().io), UsageError);
    await rejects(() => shadowCommand.run(["wat"], flags, capture().io), UsageError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the static module graph of the CLI, the services and the web app holds no shadow code", async () => {
  for (const entry of ["main.ts", "services.ts"]) {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "null",
    }).output();
    const graph = JSON.parse(new TextDecoder().decode(r.stdout)) as {
      modules: { specifier: string; dependencies?: { specifier: string; code?: unknown }[] }[];
    };
    const loaded = graph.modules.map((m) => m.specifier).filter((s) =>
      s.includes("/lib/cloud/shadow/")
    );
    // Type-only imports (routes/api/shadow.ts) are in the graph but never evaluated.
    const runtime = graph.modules.flatMap((m) =>
      (m.dependencies ?? []).filter((d) => d.specifier.includes("cloud/shadow/") && d.code)
        .map((d) => `${m.specifier} → ${d.specifier}`)
    );
    ok(runtime.length === 0, `${entry}: ${runtime.join(", ")} (${loaded.length} modules)`);
  }
});
