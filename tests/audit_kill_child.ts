/**
 * Child of audit_kill_test.ts: an agent with both audit destinations on
 * that records events until it is killed. Prints `ready` once started, then
 * `ack ID` after each `record()` returned (durable then).
 *
 * Usage: deno run … audit_kill_child.ts DIR CLOUDTRAIL_URL LOGS_URL
 */

import { Agent } from "../lib/agent.ts";
import type { AuditService } from "../lib/cloud/audit/mod.ts";
import { configSchema } from "../lib/config/mod.ts";
import { LogHub } from "../lib/log/mod.ts";
import { LIBRARY_SERVICES } from "../lib/services.ts";
import { MOTO_CREDENTIALS, MOTO_REGION } from "./helpers/moto.ts";

export const CHANNEL =
  "arn:aws:cloudtrail:eu-west-1:123456789012:channel/01234567-89ab-cdef-0123-456789abcdef";

if (import.meta.main) await main();

async function main(): Promise<void> {
  const [dir, ct, logs] = Deno.args;
  const config = configSchema.parse({
    agent: { mode: "cloud" },
    device: { id: "d1" },
    aws: { region: MOTO_REGION, credentials: MOTO_CREDENTIALS },
    audit: {
      cloudtrail: { enabled: true, channelArn: CHANNEL, endpoint: ct, maxEvents: 20 },
      logs: { enabled: true, endpoint: logs },
      flushInterval: 10,
      backoff: { min: 10, max: 100 },
      confirmDelay: 0,
      requestTimeout: 2000,
    },
  });
  const agent = await Agent.start({
    loaded: { config, configDir: dir!, stateDir: dir!, files: [], secrets: [] },
    factories: LIBRARY_SERVICES,
    hub: new LogHub({ sinks: [] }),
  });
  const audit = agent.get<AuditService>("audit");
  const enc = new TextEncoder();
  const say = (line: string) => Deno.stdout.writeSync(enc.encode(line + "\n"));
  say("ready");
  for (let n = 0;; n++) {
    const e = audit.record({
      actor: { type: "device", id: "kill" },
      action: "app.kill.tick",
      details: { n },
    });
    say(`ack ${e.id}`);
    await new Promise((r) => setTimeout(r, 1 + Math.random() * 3));
  }
}
