/**
 * Tern's entry point: run the CLI with the agent's services and exit with its
 * code. The logic lives in `lib/` (the CLI: `lib/cli/mod.ts`); the services
 * it runs are listed in `services.ts`.
 */

import { cli } from "./lib/cli/mod.ts";
import { SERVICES } from "./services.ts";

/** Run the CLI with `args`; resolves to the exit code. */
export function main(args: string[]): Promise<number> {
  return cli(args, { services: SERVICES });
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
