/**
 * The entry of the bundled agent that `deno task start` runs (deno.json's
 * `build` task: one `deno bundle`, minified and code-split, of this module
 * and every `later()` module into `dist/agent/`, where this module becomes
 * `dist/agent/deploy/agent_entry.js`). Run from source it is not meant to
 * work: the paths below are those of its bundled copy.
 *
 * In the bundle every module's `import.meta.url` is the URL of the chunk it
 * landed in, so what the code otherwise finds beside itself is pointed at
 * from here: the cloud modules and the other commands (`later()`) are the
 * bundle's own entry files, loaded by a computed path so that `deno run` does
 * not read them at start, and the dashboard is read from the repository's
 * `routes/site/`.
 */

import { LATER_MODULES, provideLater } from "../lib/later.ts";
import { useSiteDir } from "../lib/site_bundle.ts";
import { fromFileUrl } from "../lib/path.ts";
import { cli } from "../lib/cli/mod.ts";
import { SERVICES } from "../services.ts";

/** `dist/agent/`: the bundle's root (this file is `deploy/agent_entry.js` in it). */
const BUNDLE = new URL("../", import.meta.url);

provideLater(
  Object.fromEntries(LATER_MODULES.map((m) => {
    const url = new URL(m.replace(/\.ts$/, ".js"), BUNDLE).href;
    return [m, () => import(url)];
  })) as Parameters<typeof provideLater>[0],
  [fromFileUrl(BUNDLE).replace(/\/$/, "")],
);
useSiteDir(new URL("../../routes/site/", BUNDLE));

Deno.exit(await cli(Deno.args, { services: SERVICES }));
