/**
 * Child of cloud_metrics_kill_test.ts: an agent with CloudWatch metrics
 * (PutMetricData) that closes a 1 s high-resolution period of the metric
 * "KillTest" every 50 ms of wall time (ten samples of 1 each, at the
 * synthetic time BASE + (wall/50 ms − P0) s, so no period is ever reused) and
 * prints `closed T` once the period's datum is in the spool (durable).
 * Prints `ready` once started. With MODE "drain" it only sends what is left.
 *
 * Usage: deno run … cloud_metrics_kill_child.ts DIR ENDPOINT BASE P0 [drain]
 */

import { Agent } from "../lib/agent.ts";
import type { CloudMetricsService } from "../lib/cloud/metrics/mod.ts";
import { LogHub } from "../lib/log/mod.ts";
import { LIBRARY_SERVICES } from "../lib/services.ts";
import { cloudMetricsConfig } from "./helpers/moto_metrics.ts";

if (import.meta.main) await main();

async function main(): Promise<void> {
  const [dir, endpoint, base, p0, mode] = Deno.args;
  const config = cloudMetricsConfig({
    via: "putMetricData",
    endpoint,
    flushInterval: 10,
    confirmDelay: 0,
    backoff: { min: 10, max: 100 },
    highResolution: ["KillTest"],
    highResolutionPeriod: 1000,
    os: { enabled: false },
    agent: { enabled: false },
  });
  const agent = await Agent.start({
    loaded: { config, configDir: dir!, stateDir: dir!, files: [], secrets: [] },
    factories: LIBRARY_SERVICES,
    hub: new LogHub({ sinks: [] }),
  });
  const metrics = agent.get<CloudMetricsService>("cloud.metrics");
  const enc = new TextEncoder();
  const say = (line: string) => Deno.stdout.writeSync(enc.encode(line + "\n"));
  say("ready");
  if (mode === "drain") {
    while (metrics.streams()[0]!.backlog > 0) await new Promise((r) => setTimeout(r, 20));
    say("drained");
    await agent.stop();
    return;
  }
  let last = -1;
  for (;;) {
    const p = Math.floor(Date.now() / 50);
    if (p !== last) {
      last = p;
      const t = Number(base) + (p - Number(p0)) * 1000;
      for (let i = 0; i < 10; i++) metrics.put("KillTest", 1, { time: t + i });
      metrics.flush(t + 1000);
      say(`closed ${t}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}
