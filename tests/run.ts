/**
 * `deno task test`: the whole suite (`deno test --allow-all --parallel`, with
 * any arguments passed on), then one line naming the suites that were
 * skipped for a missing peer and the command that installs the peers, so a
 * run never looks complete when it was not. Exits with the tests' status.
 */

import { skipSummary } from "./helpers/peers.ts";

const notes = await Deno.makeTempDir({ prefix: "tern_test_skips_" });
const { code } = await new Deno.Command(Deno.execPath(), {
  args: ["test", "--allow-all", "--parallel", ...Deno.args],
  env: { TERN_TEST_SKIPS: notes },
}).spawn().status;
const names = [...Deno.readDirSync(notes)].map((e) => e.name);
await Deno.remove(notes, { recursive: true });
for (const line of skipSummary(names)) console.log(line);
Deno.exit(code);
