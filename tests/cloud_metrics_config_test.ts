/**
 * `cloud.metrics` in config: defaults, clear errors for bad values (key
 * path, what was expected), and the permissions it adds (the monitoring or
 * logs host, /proc and /sys, extra disk paths) — and none when it is off.
 */

import assert from "node:assert/strict";
import { configSchema, derivePermissions, permissionFlags } from "../lib/config/mod.ts";

const BASE = { configDir: "/etc/tern", stateDir: "/var/lib/tern" };

Deno.test("cloud.metrics permissions: the CloudWatch or Logs host, --allow-sys for the OS, disk paths", () => {
  const put = derivePermissions(
    configSchema.parse({
      aws: { region: "eu-west-1" },
      cloud: {
        metrics: { enabled: true, via: "putMetricData", os: { disk: { paths: ["/data"] } } },
      },
    }),
    BASE,
  );
  assert.ok(put.net.includes("monitoring.eu-west-1.amazonaws.com:443"));
  assert.deepEqual(put.sys.sort(), ["cpus", "loadavg", "osUptime", "statfs", "systemMemoryInfo"]);
  assert.ok(put.read.includes("/data"), "statfs of a path needs read access to it");
  assert.ok(
    !put.read.some((p) => p.startsWith("/proc") || p.startsWith("/sys")),
    "Deno grants /proc only to --allow-all",
  );
  const flags = permissionFlags(put);
  assert.ok(
    flags.includes("--allow-sys=cpus,loadavg,osUptime,statfs,systemMemoryInfo"),
    flags.join(" "),
  );
  assert.ok(!flags.includes("--allow-all") && !flags.includes("-A"));
  const emf = derivePermissions(
    configSchema.parse({
      aws: { region: "eu-west-1" },
      cloud: { metrics: { enabled: true, os: { enabled: false } } },
    }),
    BASE,
  );
  assert.ok(emf.net.includes("logs.eu-west-1.amazonaws.com:443"), "EMF goes to CloudWatch Logs");
  assert.ok(!emf.net.some((h) => h.startsWith("monitoring.")));
  assert.deepEqual(emf.sys, [], "no OS group: no --allow-sys");
  const withLogs = derivePermissions(
    configSchema.parse({
      aws: { region: "eu-west-1" },
      cloud: { logs: { enabled: true }, metrics: { enabled: true, os: { load: false } } },
    }),
    BASE,
  );
  assert.deepEqual(withLogs.sys.sort(), ["cpus", "osUptime", "statfs", "systemMemoryInfo"]);
  const off = derivePermissions(configSchema.parse({ aws: { region: "eu-west-1" } }), BASE);
  assert.ok(!off.net.some((h) => h.startsWith("monitoring.") || h.startsWith("logs.")));
  assert.deepEqual(off.sys, []);
});

Deno.test("bad cloud.metrics values are refused with their key path", () => {
  const bad = (metrics: Record<string, unknown>, path: RegExp, what: RegExp) => {
    const r = configSchema.safeParse({ cloud: { metrics } });
    assert.equal(r.success, false, JSON.stringify(metrics));
    const text = JSON.stringify(r.error);
    assert.match(text, path);
    assert.match(text, what);
  };
  bad({ via: "statsd" }, /via/, /emf|putMetricData/);
  bad({ period: 90_000 }, /period/, /multiple of 60000/);
  bad({ period: 30_000 }, /period/, /60000/);
  bad({ highResolutionPeriod: 2000 }, /highResolutionPeriod/, /1000|5000/);
  bad({ interval: 500 }, /interval/, /1000/);
  bad({ namespace: "AWS/EC2" }, /namespace/, /AWS\//);
  bad({ os: { cpus: true } }, /cpus/, /nknown|unrecognized/i);
  bad({ group: "/tern/{nope}" }, /group/, /log group name/);
  bad({ stream: "{thing}:m" }, /stream/, /log stream name without/);
  assert.equal(
    configSchema.parse({ cloud: { metrics: { group: "/tern/{thing}/{date}" } } }).cloud.metrics
      .group,
    "/tern/{thing}/{date}",
  );
  const ok = configSchema.parse({ cloud: { metrics: { enabled: true } } }).cloud.metrics;
  assert.equal(ok.via, "emf");
  assert.equal(ok.period, 60_000);
  assert.equal(ok.interval, 10_000);
  assert.equal(ok.namespace, "Tern");
  assert.equal(ok.os.perCore, false);
  assert.deepEqual([ok.os.diskIo, ok.os.network, ok.os.temperature], [false, false, false]);
});
