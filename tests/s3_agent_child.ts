/**
 * Child of the 1 GB test and the benchmark: an agent with "cloud.s3" on
 * uploads one file and prints one JSON line when done:
 * `{"state", "ms", "rssStartMB", "rssPeakMB", "parts", "partSize"}` — RSS when the
 * upload was queued and the process's peak RSS (VmHWM), so the parent
 * measures the agent alone, not the emulator.
 *
 * Usage: deno run … s3_agent_child.ts DIR ENDPOINT FILE KEY [CLOUD_S3_JSON]
 */

import { dirname } from "node:path";
import { Agent } from "../lib/agent.ts";
import type { S3Service } from "../lib/cloud/s3/mod.ts";
import { LogHub } from "../lib/log/mod.ts";
import { LIBRARY_SERVICES } from "../lib/services.ts";
import { s3Config } from "./helpers/s3.ts";

/** Peak resident set of this process (VmHWM), MB. */
export function peakRssMB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
  return m ? Number(m[1]) / 1024 : NaN;
}

if (import.meta.main) await main();

async function main(): Promise<void> {
  const [dir, endpoint, file, key, extra] = Deno.args;
  const config = s3Config(endpoint!, dirname(file!), extra ? JSON.parse(extra) : {});
  const agent = await Agent.start({
    loaded: { config, configDir: dir!, stateDir: dir!, files: [], secrets: [] },
    factories: LIBRARY_SERVICES,
    hub: new LogHub({ sinks: [] }),
  });
  const s3 = agent.get<S3Service>("cloud.s3");
  const rssStartMB = Deno.memoryUsage().rss / 1048576;
  const t0 = performance.now();
  const id = await s3.upload({ file: file!, key: key! });
  for (;;) {
    const p = s3.status(id);
    if (p && ["done", "failed", "canceled"].includes(p.state)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const ms = performance.now() - t0;
  const p = s3.status(id)!;
  console.log(JSON.stringify({
    state: p.state,
    error: p.error ?? null,
    ms,
    rssStartMB,
    rssPeakMB: peakRssMB(),
    parts: p.parts,
    partSize: p.partSize,
  }));
  await agent[Symbol.asyncDispose]();
}
