/**
 * Child of provision_kill_test.ts: an agent provisioning (and rotating) on
 * the config given as JSON, printing `step PURPOSE STEP` each time a step of
 * a flow is recorded, until it is killed.
 *
 * Usage: deno run … provision_kill_child.ts CONFIG_DIR STATE_DIR CONFIG_JSON
 */

import { Agent } from "../lib/agent.ts";
import { configSchema } from "../lib/config/mod.ts";
import { LogHub } from "../lib/log/mod.ts";
import { LIBRARY_SERVICES } from "../lib/services.ts";

if (import.meta.main) await main();

async function main(): Promise<void> {
  const [configDir, stateDir, json] = Deno.args;
  const config = configSchema.parse(JSON.parse(json!));
  const enc = new TextEncoder();
  const say = (line: string) => Deno.stdout.writeSync(enc.encode(line + "\n"));
  await Agent.start({
    loaded: { config, configDir: configDir!, stateDir: stateDir!, files: [], secrets: [] },
    factories: LIBRARY_SERVICES,
    hub: new LogHub({
      sinks: [{
        write: (r) => {
          if (/step recorded$/.test(r.msg)) say(`step ${r.fields?.purpose} ${r.fields?.step}`);
        },
      }],
    }),
  });
  say("ready");
  await new Promise(() => {});
}
