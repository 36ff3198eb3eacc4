/**
 * A device maker's entry point, as the README shows it ("Device code adds its
 * own routes"): start the agent with `runAgent()` and register an action on
 * the web service each time it runs (`agent.onService`). Like the README's, it
 * starts the agent when it is evaluated, so `deno task build --entry` can
 * bundle it; the web benchmark runs that bundle with the start task's flags,
 * so its action is measured the way a device serves it.
 *
 * `GET /api/device/state` (public): a small JSON answer, `{"on":true,"level":42}`.
 */

import { loadFromFlags, parseGlobals, runAgent } from "../../../lib/cli/mod.ts";
import type { WebService } from "../../../routes/web_service.ts";
import { SERVICES } from "../../../services.ts";

const STATE = { on: true, level: 42 };

const { flags } = parseGlobals(Deno.args);
const io = { out: console.log, err: console.error };
Deno.exit(
  await runAgent(loadFromFlags(flags), flags, io, {
    factories: SERVICES,
    onStarted(agent) {
      agent.onService<WebService>("web", (web) => {
        web.route("GET", "/api/device/state", () => Response.json(STATE));
      });
    },
  }),
);
