/**
 * `tern cloud status` in-process on a state directory whose database holds
 * spool streams (as the agent leaves them), the Prometheus rendering of the
 * same figures, the permissions the cloud section derives, and a live agent
 * (started as `deno task start` does) whose backlog during an outage shows in
 * `tern cloud status`, `/api/status` and `/metrics`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { cloudCommand } from "../lib/cli/cloud.ts";
import { systemClock } from "../lib/clock.ts";
import { renderSpoolMetrics, Spool, spoolStatus } from "../lib/cloud/mod.ts";
import { configSchema, derivePermissions, loadConfig, permissionFlags } from "../lib/config/mod.ts";
import { Database } from "../lib/db/mod.ts";
import { nullLogger } from "../lib/log/mod.ts";
import { RUNTIME_ENV, RUNTIME_FLAGS } from "../deploy/compile.ts";
import { freePort } from "../deploy/free_port.ts";
import {
  getLogEvents,
  MOTO_CREDENTIALS,
  MOTO_REGION,
  startLogsEndpoint,
  startMoto,
} from "./helpers/moto.ts";
import { forEachLine, spawnDeno } from "./helpers/process.ts";
import { until } from "./helpers/wait.ts";
import { BUNDLE_DIR, bundleEntry } from "./bench/web/start_task.ts";

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

Deno.test("a live agent shows the real backlog in tern cloud status, /api/status and /metrics", async () => {
  // The agent as `deno task start` runs it (RUNTIME_FLAGS and RUNTIME_ENV, the
  // permissions `tern permissions` derives), following a file while
  // CloudWatch answers 503; then the outage ends and the backlog drains to moto.
  const dir = await Deno.makeTempDir({ prefix: "tern_cloud_live_" });
  await using moto = await startMoto();
  let down = true;
  await using endpoint = await startLogsEndpoint(moto, {
    intercept: (req) =>
      down && req.headers.get("x-amz-target")?.endsWith("PutLogEvents")
        ? Response.json({ __type: "ServiceUnavailableException", message: "down" }, {
          status: 503,
        })
        : undefined,
  });
  const config = join(dir, "config");
  const state = join(dir, "state");
  const app = join(dir, "app");
  await Deno.mkdir(config);
  await Deno.mkdir(app);
  const web = `http://127.0.0.1:${freePort()}`;
  await Deno.writeTextFile(
    join(config, "tern.json5"),
    JSON.stringify({
      device: { id: "live1" },
      web: { listen: [web], auth: { iterations: 10000 } },
      aws: { region: MOTO_REGION, credentials: MOTO_CREDENTIALS },
      cloud: {
        logs: {
          enabled: true,
          endpoint: endpoint.url,
          flushInterval: 50,
          confirmDelay: 0,
          backoff: { min: 100, max: 300 },
          agent: { enabled: false },
          files: [{ path: join(app, "*.log"), linger: 100, poll: 250 }],
        },
      },
    }),
  );
  const loaded = loadConfig({ dir: config, required: true, env: () => undefined });
  const needs = derivePermissions(loaded.config, { configDir: config, stateDir: state });
  // What the start task runs: the bundle, whose cloud modules are its own files.
  needs.read.push(BUNDLE_DIR);
  const child = spawnDeno(
    ["--no-prompt", ...RUNTIME_FLAGS, ...permissionFlags(needs)],
    bundleEntry(),
    ["run", "--config", config, "--state", state],
    { ...RUNTIME_ENV },
  );
  const lines: string[] = [];
  const reading = Promise.all([
    forEachLine(child.stdout, (l) => lines.push(l)),
    forEachLine(child.stderr, (l) => lines.push(l)),
  ]);
  try {
    await until(() => lines.some((l) => /"token":"/.test(l) || /\\"token\\":\\"/.test(l)), {
      ms: 30_000,
    });
    const line = lines.find((l) => /token/.test(l))!;
    const token = /\\?"token\\?":\\?"([A-Za-z0-9_-]+)/.exec(line)![1];
    const setup = await fetch(`${web}/api/auth/setup`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token, username: "admin", password: "live-status-password" }),
    });
    assert.equal(setup.status, 201, await setup.clone().text());
    await setup.body?.cancel();
    const cookie = setup.headers.get("set-cookie")!.split(";")[0]!;
    const now = Date.now();
    const text = Array.from(
      { length: 250 },
      (_, i) => `${new Date(now - 1000 + i).toISOString()} INFO live line ${i}\n`,
    ).join("");
    await Deno.writeTextFile(join(app, "app.log"), text);

    // The outage: all 250 lines wait, and every view says so.
    const status = async () => {
      const r = await fetch(`${web}/api/status`, { headers: { cookie } });
      assert.equal(r.status, 200);
      const body = await r.json() as {
        spool: { name: string; backlog: number; lastError: string | null }[];
      };
      return body.spool.find((s) => s.name === "logs.file.0");
    };
    const slowly = () => new Promise((r) => setTimeout(r, 200));
    await until(async () => {
      const s = await status();
      return s?.backlog === 250 && !!s.lastError;
    }, { ms: 20_000, step: slowly });
    const m = await fetch(`${web}/metrics`, { headers: { cookie } });
    const metrics = await m.text();
    assert.match(metrics, /^tern_spool_backlog_records\{stream="logs.file.0"\} 250$/m);
    assert.match(
      metrics,
      /^tern_spool_records_total\{stream="logs.file.0",event="appended"\} 250$/m,
    );
    assert.match(metrics, /^tern_spool_records_total\{stream="logs.file.0",event="sent"\} 0$/m);
    const cli = spawnDeno(["--allow-all"], bundleEntry(), [
      "cloud",
      "status",
      "--config",
      config,
      "--state",
      state,
    ]);
    const out = new TextDecoder().decode((await cli.output()).stdout);
    assert.match(out, /logs\.file\.0 +250 waiting \(\d+ bytes, oldest \d+ s old\); sent 0/, out);
    assert.match(out, /last error .*ServiceUnavailableException/, out);

    // The outage ends: the backlog drains, each line once, and the views follow.
    down = false;
    await until(async () => (await status())?.backlog === 0, { ms: 20_000, step: slowly });
    const events = await getLogEvents(moto, "/tern/live1", "live1/app.log");
    assert.deepEqual(events.map((e) => e.message), text.trimEnd().split("\n"));
    const after = await (await fetch(`${web}/metrics`, { headers: { cookie } })).text();
    assert.match(after, /^tern_spool_backlog_records\{stream="logs.file.0"\} 0$/m);
    assert.match(after, /^tern_spool_records_total\{stream="logs.file.0",event="sent"\} 250$/m);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await reading;
    await Deno.remove(dir, { recursive: true });
  }
});
