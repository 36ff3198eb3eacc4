/**
 * Child of cloud_logs_kill_test.ts: an agent with CloudWatch Logs on (agent
 * log, app API, a followed file) that writes until it is killed. Prints
 * `ready` once started, then `ack app N` after `write()` returned and
 * `ack agent N` after the log call returned (both durable then).
 *
 * Usage: deno run … cloud_logs_kill_child.ts DIR ENDPOINT FIRST_N
 */

import { Agent } from "../lib/agent.ts";
import type { CloudLogsService } from "../lib/cloud/logs/mod.ts";

import { LogHub } from "../lib/log/mod.ts";
import { LIBRARY_SERVICES } from "../lib/services.ts";
import { cloudLogsConfig } from "./helpers/moto.ts";

if (import.meta.main) await main();

async function main(): Promise<void> {
  const [dir, endpoint, first] = Deno.args;
  const config = cloudLogsConfig(endpoint!, {
    flushInterval: 10,
    confirmDelay: 0,
    maxEvents: 50,
    backoff: { min: 10, max: 100 },
    agent: { sources: { agent: "off" } },
    files: [{ path: `${dir}/app/*.log`, linger: 200, poll: 250 }],
  });
  const agent = await Agent.start({
    loaded: { config, configDir: dir!, stateDir: dir!, files: [], secrets: [] },
    factories: LIBRARY_SERVICES,
    hub: new LogHub({ sinks: [] }),
  });
  const logs = agent.get<CloudLogsService>("cloud.logs");
  const log = agent.hub.logger("device");
  const enc = new TextEncoder();
  const say = (line: string) => Deno.stdout.writeSync(enc.encode(line + "\n"));
  say("ready");
  for (let n = Number(first);; n++) {
    logs.write("kill", `app ${n}`);
    say(`ack app ${n}`);
    log.info(`agent ${n}`);
    say(`ack agent ${n}`);
    await new Promise((r) => setTimeout(r, 1 + Math.random() * 3));
  }
}
