/**
 * The entry of the bundled agent that `deno task start` runs (`deno task
 * build`, deploy/build.ts: one `deno bundle`, minified and code-split, of this
 * module and every `later()` module into `dist/agent/`, where this module
 * becomes `dist/agent/deploy/agent_entry.js`). Run from source it is not meant
 * to work: the root below is that of its bundled copy (deploy/bundled.ts).
 */

import { useBundle } from "./bundled.ts";
import { cli } from "../lib/cli/mod.ts";
import { SERVICES } from "../services.ts";

useBundle(new URL("../", import.meta.url));

Deno.exit(await cli(Deno.args, { services: SERVICES }));
