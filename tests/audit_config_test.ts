/**
 * The `audit` section: defaults, errors naming their key, the permissions
 * derived from it (the CloudTrail Data and CloudWatch Logs hosts only when
 * on), `tern run` under exactly those permissions recording and shipping
 * to both destinations, and the CloudFormation template's audit group,
 * channel and IAM statements (text checks: no YAML parser is a dependency).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ConfigError,
  configSchema,
  derivePermissions,
  loadConfig,
  permissionFlags,
} from "../lib/config/mod.ts";
import { AuditLog, Database } from "../lib/db/mod.ts";
import { forEachLine, freePort, spawnDeno } from "./helpers/process.ts";
import {
  getLogEvents,
  MOTO_CREDENTIALS,
  MOTO_REGION,
  startLogsEndpoint,
  startMoto,
} from "./helpers/moto.ts";
import { startCloudTrailData } from "./helpers/cloudtrail_data.ts";
import { until } from "./helpers/wait.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const CHANNEL = "arn:aws:cloudtrail:eu-west-1:123456789012:channel/abc-123";

async function problems(audit: unknown): Promise<{ path: string; message: string }[]> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "tern.json5"), JSON.stringify({ audit }));
    loadConfig({ dir, required: true, env: () => undefined });
    return [];
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.problems.map((p) => ({ path: p.path, message: p.message }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("audit config: defaults, and errors that name their key", async () => {
  const d = configSchema.parse({}).audit;
  assert.equal(d.enabled, true);
  assert.equal(d.cloudtrail.enabled, false);
  assert.equal(d.logs.enabled, false);
  assert.deepEqual(d.retention, { maxEvents: 100_000, maxAgeDays: 365 });
  let p = await problems({ cloudtrail: { enabled: true } });
  assert.equal(p.length, 1);
  assert.equal(p[0]!.path, "audit.cloudtrail.channelArn");
  assert.match(p[0]!.message, /needs a channelArn/);
  p = await problems({ cloudtrail: { channelArn: "arn:aws:s3:::bucket" } });
  assert.equal(p[0]!.path, "audit.cloudtrail.channelArn");
  p = await problems({ retention: { maxEvents: 5 } });
  assert.equal(p[0]!.path, "audit.retention.maxEvents");
  p = await problems({ logs: { group: "bad group!" } });
  assert.equal(p[0]!.path, "audit.logs.group");
  p = await problems({ cloudtrial: {} });
  assert.match(p[0]!.message, /Unknown key "audit.cloudtrial".*"audit.cloudtrail"/);
});

Deno.test("audit permissions: the CloudTrail Data and Logs hosts only when a destination is on", () => {
  const base = { configDir: "/etc/tern", stateDir: "/var/lib/tern" };
  const off = derivePermissions(configSchema.parse({ aws: { region: "eu-west-1" } }), base);
  assert.ok(!off.net.some((h) => /cloudtrail-data|logs\./.test(h)));
  const on = derivePermissions(
    configSchema.parse({
      aws: { region: "eu-west-1" },
      audit: { cloudtrail: { enabled: true, channelArn: CHANNEL }, logs: { enabled: true } },
    }),
    base,
  );
  assert.ok(on.net.includes("cloudtrail-data.eu-west-1.amazonaws.com:443"));
  assert.ok(on.net.includes("logs.eu-west-1.amazonaws.com:443"));
});

Deno.test("tern run under the derived permissions records web logins and ships them to both destinations", async () => {
  await using moto = await startMoto();
  await using logsEp = await startLogsEndpoint(moto);
  await using ct = await startCloudTrailData();
  const dir = await Deno.makeTempDir({ prefix: "tern-audit-perm-" });
  const conf = join(dir, "conf");
  await Deno.mkdir(conf);
  const port = freePort();
  await Deno.writeTextFile(
    join(conf, "tern.json5"),
    JSON.stringify({
      agent: { mode: "cloud", state: join(dir, "state") },
      device: { id: "perm-dev" },
      web: { listen: [`http://127.0.0.1:${port}`], static: { enabled: false } },
      aws: { region: MOTO_REGION, credentials: MOTO_CREDENTIALS },
      audit: {
        cloudtrail: { enabled: true, channelArn: CHANNEL, endpoint: ct.url },
        logs: { enabled: true, endpoint: logsEp.url },
        flushInterval: 20,
      },
    }),
  );
  const loaded = loadConfig({ dir: conf, required: true, env: () => undefined });
  const needs = derivePermissions(loaded.config, loaded);
  needs.read.push(new URL("..", import.meta.url).pathname); // the sources: services load by dynamic import
  const child = spawnDeno(["--no-prompt", ...permissionFlags(needs)], MAIN, [
    "run",
    "--config",
    conf,
  ]);
  const lines: string[] = [];
  const reading = forEachLine(child.stderr, (l) => lines.push(l));
  const out = child.stdout.text();
  try {
    await until(() => lines.some((l) => l.includes('"Agent started"')), {
      ms: 20_000,
      what: "the start",
    });
    const r = await fetch(`http://127.0.0.1:${port}/api/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "nobody", password: "not-the-password" }),
    });
    assert.equal(r.status, 401);
    await r.body?.cancel();
    const login = () => [...ct.events.values()].find((e) => e.eventData.eventName === "auth.login");
    await until(() => login() !== undefined, { ms: 20_000, what: "the login in CloudTrail" });
    assert.equal(login()!.eventData.errorCode, "failure");
    assert.equal(login()!.eventData.sourceIPAddress, "127.0.0.1");
    await until(
      async () =>
        (await getLogEvents(moto, "/tern/audit", "perm-dev").catch(() => [])).some((e) =>
          e.message.includes('"action":"auth.login"')
        ),
      { ms: 20_000, what: "the login in CloudWatch Logs" },
    );
    child.kill("SIGTERM");
    const { code } = await child.status;
    await reading;
    assert.equal(code, 0, lines.join("\n"));
    const bad = lines.filter((l) =>
      (/"level":"(error|warn)"/.test(l) && !/First run|login failed/.test(l)) ||
      /NotCapable/.test(l)
    );
    assert.deepEqual(bad, []);
    assert.deepEqual(ct.invalid, []);
    using db = Database.open({ path: join(dir, "state", "tern.db"), purgeInterval: 0 });
    const actions = new AuditLog(db).list().map((e) => e.action);
    assert.deepEqual(actions, ["agent.start", "auth.login", "agent.stop"]);
    await out;
  } catch (e) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
    await reading;
    await out;
    throw e;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("the CloudFormation template creates the audit group, the optional channel and the device's rights", async () => {
  const t = await Deno.readTextFile(new URL("../deploy/cloudformation/tern.yaml", import.meta.url));
  const d = configSchema.parse({}).audit;
  assert.match(
    t,
    new RegExp(`AuditGroupName:\\n    Type: String\\n    Default: ${d.logs.group}\\n`),
  );
  assert.equal(d.logs.stream, "{thing}", "the policy names the stream by the thing");
  assert.match(t, /Type: AWS::Logs::LogGroup\n[\s\S]*?LogGroupName: !Ref AuditGroupName/);
  assert.match(
    t,
    /Action: \[logs:CreateLogStream, logs:PutLogEvents, logs:GetLogEvents\]\n\s+Resource: !Sub ".*log-group:\$\{AuditGroupName\}:log-stream:\$\{!credentials-iot:ThingName\}"/,
  );
  assert.match(t, /Type: AWS::CloudTrail::Channel\n\s+Condition: WithCloudTrail/);
  assert.match(t, /Source: Custom/);
  assert.match(
    t,
    /Action: cloudtrail-data:PutAuditEvents\n\s+Resource: !GetAtt AuditChannel.ChannelArn/,
  );
  assert.match(t, /Field: eventCategory\n\s+Equals: \[ActivityAuditLog\]/);
  assert.match(t, /AuditChannelArn:\n\s+Condition: WithCloudTrail/);
});
