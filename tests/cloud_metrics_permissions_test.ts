/**
 * `tern run` with exactly the permissions `tern permissions` derives (no
 * -A): with `cloud.metrics` on, the OS collector reads CPU, load, memory and
 * uptime through Deno's system APIs (`--allow-sys`) and statfs of the state
 * and config directories, the web server's and the agent's own
 * series are sampled, and CloudWatch (moto behind the SigV4 endpoint)
 * receives them; `/metrics` serves the same registry; nothing is
 * unreadable but the network group, whose /proc file Deno grants only to
 * --allow-all (switched off and noted once), the agent logs no error, and it
 * stops cleanly on SIGTERM.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { derivePermissions, loadConfig, permissionFlags } from "../lib/config/mod.ts";
import { forEachLine, freePort, spawnDeno } from "./helpers/process.ts";
import { MOTO_CREDENTIALS, MOTO_REGION, startMoto } from "./helpers/moto.ts";
import { cloudwatch, startMetricsEndpoint } from "./helpers/moto_metrics.ts";
import { until } from "./helpers/wait.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const HIGH = [
  "LoadAverage",
  "MemoryAvailable",
  "DiskFree",
  "ServiceRestarts",
  "CpuUtilization",
  "MemoryUtilization",
  "DiskUtilization",
  "Uptime",
  "AgentMemoryRss",
  "HttpRequests",
];

Deno.test("tern run with derived permissions sends OS, web and agent metrics and serves /metrics", async () => {
  await using moto = await startMoto();
  await using ep = await startMetricsEndpoint(moto);
  const dir = await Deno.makeTempDir({ prefix: "tern-metrics-perm-" });
  const conf = join(dir, "conf");
  await Deno.mkdir(conf);
  const port = freePort();
  await Deno.writeTextFile(
    join(conf, "tern.json5"),
    JSON.stringify({
      agent: { mode: "cloud", state: join(dir, "state") },
      device: { id: "perm-dev" },
      web: { listen: [`http://127.0.0.1:${port}`], metrics: { role: "public" } },
      aws: { region: MOTO_REGION, credentials: MOTO_CREDENTIALS },
      cloud: {
        metrics: {
          enabled: true,
          via: "putMetricData",
          endpoint: ep.url,
          interval: 1000,
          flushInterval: 50,
          highResolution: HIGH,
          highResolutionPeriod: 1000,
          os: { network: true }, // a /proc file Deno refuses without --allow-all: switched off, noted
        },
      },
    }),
  );
  const loaded = loadConfig({ dir: conf, required: true, env: () => undefined });
  const needs = derivePermissions(loaded.config, loaded);
  assert.deepEqual(needs.sys.sort(), ["cpus", "loadavg", "osUptime", "statfs", "systemMemoryInfo"]);
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
    for (let i = 0; i < 5; i++) {
      await (await fetch(`http://127.0.0.1:${port}/api/health`)).body?.cancel();
    }
    const names = async () => {
      const r = await cloudwatch<{ Metrics: { MetricName: string }[] }>(moto, "ListMetrics", {
        Namespace: "Tern",
      });
      return new Set(r.Metrics.map((m) => m.MetricName));
    };
    let seen = new Set<string>();
    await until(async () => {
      seen = await names();
      return HIGH.every((n) => seen.has(n));
    }, {
      ms: 20_000,
      what: () => `every metric in moto (have ${[...seen].join(", ")})`,
      step: () => new Promise((r) => setTimeout(r, 200)),
    });
    const have = await names();
    for (const n of HIGH) assert.ok(have.has(n), `${n} in CloudWatch`);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(text, /^tern_os_cpu_utilization_percent\{cpu="all"\} [\d.]+$/m);
    assert.match(text, /^tern_os_disk_used_percent\{mount="[^"]+"\} [\d.]+$/m);
    assert.match(
      text,
      /^tern_http_requests_total\{method="GET",route="\/api\/health",status="200"\} 5$/m,
    );
    assert.match(text, /^tern_spool_backlog_records\{stream="metrics.put"\} \d+$/m);
    assert.equal(ep.rejected, 0);
    child.kill("SIGTERM");
    const { code } = await child.status;
    await reading;
    assert.equal(code, 0, lines.join("\n"));
    const problems = lines.filter((l) =>
      (/"level":"(error|warn)"/.test(l) && !l.includes("First run: no users yet")) ||
      /NotCapable/.test(l)
    );
    assert.deepEqual(problems, []);
    const noted = lines.filter((l) => l.includes("An OS metric cannot be read"));
    assert.equal(noted.length, 1, noted.join("\n"));
    assert.match(noted[0]!, /"what":"network".*only with --allow-all/);
    assert.ok(!have.has("NetworkIn"));
    await out;
  } catch (e) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
    throw new Error(`${(e as Error).message}\nThe agent's log:\n${lines.join("\n")}`, { cause: e });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Bind-mount /proc and /sys read-only under a new directory (root only); undefined when not possible. */
async function bindMounts(): Promise<
  { root: string; [Symbol.asyncDispose](): Promise<void> } | undefined
> {
  if (Deno.uid() !== 0) return undefined;
  const root = await Deno.makeTempDir({ prefix: "tern-os-bind-" });
  const mounted: string[] = [];
  const run = (args: string[]) =>
    new Deno.Command("mount", { args, stdout: "null", stderr: "null" }).output();
  for (const d of ["proc", "sys"]) {
    await Deno.mkdir(join(root, d));
    if ((await run(["--bind", "-o", "ro", `/${d}`, join(root, d)])).success) {
      mounted.push(join(root, d));
    }
  }
  const dispose = async () => {
    for (const m of mounted.reverse()) {
      await new Deno.Command("umount", { args: [m], stdout: "null", stderr: "null" }).output();
    }
    await Deno.remove(root, { recursive: true }).catch(() => {});
  };
  if (mounted.length < 2) {
    await dispose();
    return undefined;
  }
  return { root, [Symbol.asyncDispose]: dispose };
}

const canMount = Deno.uid() === 0 && (() => {
  try {
    return new Deno.Command("mount", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync()
      .success;
  } catch {
    return false;
  }
})();

Deno.test({
  name:
    "with /proc and /sys bind-mounted under os.filesRoot, disk I/O and network arrive under the derived permissions (root: mount --bind)",
  ignore: !canMount,
  async fn() {
    await using binds = await bindMounts();
    if (!binds) throw new Error("mount --bind failed (needs root and CAP_SYS_ADMIN)");
    await using moto = await startMoto();
    await using ep = await startMetricsEndpoint(moto);
    const dir = await Deno.makeTempDir({ prefix: "tern-metrics-bind-" });
    const conf = join(dir, "conf");
    await Deno.mkdir(conf);
    const wanted = [
      "NetworkIn",
      "NetworkOut",
      "NetworkErrors",
      "DiskReadBytes",
      "DiskWriteBytes",
      "CpuUtilization",
    ];
    await Deno.writeTextFile(
      join(conf, "tern.json5"),
      JSON.stringify({
        agent: { mode: "cloud", state: join(dir, "state") },
        device: { id: "bind-dev" },
        web: { enabled: false },
        aws: { region: MOTO_REGION, credentials: MOTO_CREDENTIALS },
        cloud: {
          metrics: {
            enabled: true,
            via: "putMetricData",
            endpoint: ep.url,
            interval: 1000,
            flushInterval: 50,
            highResolution: wanted,
            os: { filesRoot: binds.root, network: true, diskIo: true, temperature: true },
          },
        },
      }),
    );
    const loaded = loadConfig({ dir: conf, required: true, env: () => undefined });
    const needs = derivePermissions(loaded.config, loaded);
    assert.ok(needs.read.includes(binds.root), "read access to the bind mounts");
    assert.ok(!needs.read.includes("/proc") && !needs.read.includes("/sys"));
    needs.read.push(new URL("..", import.meta.url).pathname);
    const child = spawnDeno(["--no-prompt", ...permissionFlags(needs)], MAIN, [
      "run",
      "--config",
      conf,
    ]);
    const lines: string[] = [];
    const reading = forEachLine(child.stderr, (l) => lines.push(l));
    const out = child.stdout.text();
    try {
      let seen = new Set<string>();
      await until(async () => {
        const r = await cloudwatch<{ Metrics: { MetricName: string }[] }>(moto, "ListMetrics", {
          Namespace: "Tern",
        });
        seen = new Set(r.Metrics.map((m) => m.MetricName));
        return wanted.every((n) => seen.has(n));
      }, {
        ms: 20_000,
        what: () => `the file groups in moto (have ${[...seen].join(", ")})`,
        step: () => new Promise((r) => setTimeout(r, 200)),
      });
      child.kill("SIGTERM");
      assert.equal((await child.status).code, 0);
      await reading;
      assert.deepEqual(
        lines.filter((l) => /cannot be read|NotCapable|"level":"error"/.test(l)),
        [],
      );
      await out;
    } catch (e) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
      throw new Error(`${(e as Error).message}\nThe agent's log:\n${lines.join("\n")}`, {
        cause: e,
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
