/**
 * What a bundle's entry sets before the agent starts (deploy/build.ts writes
 * the bundles; `deploy/agent_entry.ts` and the generated entry of a device
 * maker's bundle call it). In a bundle every module's `import.meta.url` is the
 * URL of the chunk it landed in, so what the code otherwise finds beside
 * itself is pointed at from the entry, which knows where it sits: the modules
 * `later()` loads are the bundle's own files (imported by a computed URL, so
 * that `deno run` does not read them at start, and read from the bundle's
 * directory, which the permissions then name), and the dashboard is read from
 * the repository's `routes/site/` (the bundle lives in `dist/NAME/`).
 */

import { LATER_MODULES, provideLater } from "../lib/later.ts";
import { useSiteDir } from "../lib/site_bundle.ts";
import { fromFileUrl } from "../lib/path.ts";

/** Run from the bundle whose root directory is `root` (`dist/NAME/`, with a trailing slash). */
export function useBundle(root: URL): void {
  provideLater(
    Object.fromEntries(LATER_MODULES.map((m) => {
      const url = new URL(m.replace(/\.ts$/, ".js"), root).href;
      return [m, () => import(url)];
    })) as Parameters<typeof provideLater>[0],
    [fromFileUrl(root).replace(/\/$/, "")],
  );
  useSiteDir(new URL("../../routes/site/", root));
}
