/**
 * Child of s3_kill_test.ts: an agent with "cloud.s3" on that queues
 * `DIR/files/big.bin` once (its id kept in `DIR/id`) and uploads until it is
 * killed. Prints `ready ID` once the upload is queued and the agent runs,
 * and `done` when the upload ended.
 *
 * Usage: deno run … s3_kill_child.ts DIR ENDPOINT
 */

import { join } from "node:path";
import { Agent } from "../lib/agent.ts";
import type { S3Service } from "../lib/cloud/s3/mod.ts";
import { LogHub } from "../lib/log/mod.ts";
import { LIBRARY_SERVICES } from "../lib/services.ts";
import { s3Config } from "./helpers/s3.ts";

if (import.meta.main) await main();

async function main(): Promise<void> {
  const [dir, endpoint] = Deno.args;
  const files = join(dir!, "files");
  const config = s3Config(endpoint!, files, {
    partSize: 5 * 1024 * 1024,
    parallel: 2,
    // Slow enough that the kills land mid-upload: about one part a second.
    maxBandwidth: 5 * 1024 * 1024,
  });
  const agent = await Agent.start({
    loaded: { config, configDir: dir!, stateDir: dir!, files: [], secrets: [] },
    factories: LIBRARY_SERVICES,
    hub: new LogHub({ sinks: [] }),
  });
  const s3 = agent.get<S3Service>("cloud.s3");
  const idFile = join(dir!, "id");
  let id = await Deno.readTextFile(idFile).catch(() => "");
  if (!id) {
    id = await s3.upload({ file: join(files, "big.bin"), key: "dev/big.bin" });
    await Deno.writeTextFile(`${idFile}.tmp`, id);
    await Deno.rename(`${idFile}.tmp`, idFile);
  }
  const say = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
  say(`ready ${id}`);
  for (;;) {
    const p = s3.status(id);
    if (p && ["done", "failed", "canceled"].includes(p.state)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  say(`done ${s3.status(id)!.state}`);
  await agent[Symbol.asyncDispose]();
}
