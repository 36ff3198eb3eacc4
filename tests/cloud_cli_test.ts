/**
 * `tern cloud status` in-process on a state directory whose database holds
 * spool streams (as the agent leaves them), the Prometheus rendering of the
 * same figures, and the permissions the cloud section derives.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { cloudCommand } from "../lib/cli/cloud.ts";
import { systemClock } from "../lib/clock.ts";
import { renderSpoolMetrics, Spool, spoolStatus } from "../lib/cloud/mod.ts";
import { configSchema, derivePermissions, permissionFlags } from "../lib/config/mod.ts";
import { Database } from "../lib/db/mod.ts";
import { nullLogger } from "../lib/log/mod.ts";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

Deno.test("tern cloud status prints each stream's backlog, totals and last error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tern_cloud_cli_" });
  try {
    const config = join(dir, "config");
    const state = join(dir, "state");
    await Deno.mkdir(config);
    await Deno.writeTextFile(
      join(config, "tern.json5"),
      "{ cloud: { logs: { enabled: true } } }",
    );
    {
      using db = Database.open({ path: join(state, "tern.db"), purgeInterval: 0 });
      const s = Spool.of(db, { clock: systemClock, log: nullLogger }).stream("logs.app");
      const last = s.append([{ data: "a" }, { data: "bb" }, { data: "ccc" }]);
      s.ack(last - 1);
      s.fail("logs PutLogEvents failed with ThrottlingException (400): Rate exceeded");
    }
    const c = capture();
    assert.equal(await cloudCommand.run(["status"], { config, state }, c.io), 0);
    const text = c.out.join("\n");
    assert.match(text, /^cloud\.logs: on/);
    assert.match(
      text,
      /logs\.app +1 waiting \(3 bytes, oldest \d+ s old\); sent 2, dropped 0, refused 0/,
    );
    assert.match(text, /last error .*ThrottlingException/);
    const j = capture();
    assert.equal(await cloudCommand.run(["status", "--json"], { config, state }, j.io), 0);
    const parsed = JSON.parse(j.out.join(""));
    assert.equal(parsed.streams[0].name, "logs.app");
    assert.equal(parsed.streams[0].backlog, 1);
    assert.throws(() => cloudCommand.run(["nope"], { config, state }, c.io), /Unknown subcommand/);
    // The same figures as Prometheus text.
    using db = Database.open({ path: join(state, "tern.db"), purgeInterval: 0 });
    const metrics = renderSpoolMetrics(spoolStatus(db));
    assert.match(metrics, /^tern_spool_backlog_records\{stream="logs.app"\} 1$/m);
    assert.match(metrics, /^tern_spool_records_total\{stream="logs.app",event="sent"\} 2$/m);
    assert.equal(renderSpoolMetrics([]), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cloud.logs permissions: the logs host, followed files' directories, journalctl", () => {
  const config = configSchema.parse({
    aws: { region: "eu-west-1" },
    cloud: {
      logs: {
        enabled: true,
        files: [{ path: "/var/log/myapp/*.log" }, { path: "logs/app.log" }],
        journal: { enabled: true },
      },
    },
  });
  const needs = derivePermissions(config, { configDir: "/etc/tern", stateDir: "/var/lib/tern" });
  assert.ok(needs.net.includes("logs.eu-west-1.amazonaws.com:443"));
  assert.ok(needs.read.includes("/var/log/myapp"));
  assert.ok(needs.read.includes("/etc/tern/logs") || needs.read.includes("/etc/tern"));
  assert.deepEqual(needs.run, ["journalctl"]);
  assert.ok(permissionFlags(needs).includes("--allow-run=journalctl"));
  const off = derivePermissions(configSchema.parse({}), { configDir: "/c", stateDir: "/s" });
  assert.deepEqual(off.run, []);
  assert.ok(!off.net.some((h) => h.startsWith("logs.")));
});
