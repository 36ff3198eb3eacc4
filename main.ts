/**
 * Tern's entry point: run the CLI and exit with its code. All logic lives in
 * `lib/` (see `lib/cli/mod.ts`).
 */

import { cli } from "./lib/cli/mod.ts";

if (import.meta.main) {
  Deno.exit(await cli(Deno.args));
}
