/**
 * A device application bundle through the same mechanism (`tern.bundle`
 * jobs), in an in-process agent against aedes, s3rver and the Jobs
 * responder: a signed `.tar.gz` is unpacked beside the live release,
 * `current` is swapped to it by symlink and its post-install command runs
 * (SUCCEEDED); a release whose post-install fails is rolled back to the
 * previous one, whose command runs again (FAILED with the reason); a
 * bundle that is not configured is refused.
 */

import { deepEqual, equal, match } from "node:assert/strict";
import { join } from "node:path";
import { Agent } from "../lib/agent.ts";
import { configSchema } from "../lib/config/mod.ts";
import { LIBRARY_SERVICES } from "../lib/services.ts";
import { THING, updateWorld } from "./update_helpers.ts";

async function tarball(dir: string, version: string, exit: number): Promise<Uint8Array> {
  const src = join(dir, `src-${version}`);
  await Deno.mkdir(src, { recursive: true });
  await Deno.writeTextFile(
    join(src, "install.sh"),
    `echo "$TERN_BUNDLE_VERSION" >> ../../installed.log\nexit ${exit}\n`,
  );
  await Deno.writeTextFile(join(src, "app.txt"), `app ${version}\n`);
  const out = join(dir, `app-${version}.tar.gz`);
  const r = await new Deno.Command("tar", { args: ["-czf", out, "-C", src, "."] }).output();
  equal(r.code, 0);
  return await Deno.readFile(out);
}

Deno.test("a bundle is swapped in by symlink and its post-install runs; a failing post-install rolls back to the previous release", async () => {
  await using w = await updateWorld();
  const app = join(w.dir, "app");
  await Deno.mkdir(app);
  const config = configSchema.parse({
    agent: { mode: "cloud" },
    device: { id: THING },
    mqtt: { enabled: true, url: w.broker.url, reconnect: { min: 20, max: 200 } },
    update: {
      enabled: true,
      binary: w.bin,
      version: "1.0.0",
      keys: w.keys,
      hosts: [w.host],
      backoff: { min: 50, max: 400 },
      bundles: { app: { dir: app, command: ["sh", "install.sh"], timeout: 5000 } },
    },
  });
  const agent = await Agent.start({
    loaded: { config, configDir: w.dir, stateDir: w.state, files: [], secrets: [] },
    factories: LIBRARY_SERVICES,
  });
  try {
    await w.peer.createJob(
      "b1",
      await w.release(await tarball(w.dir, "2.0.0", 0), { version: "2.0.0", bundle: "app" }),
      [THING],
    );
    const ok = await w.peer.waitStatus(THING, "b1", "SUCCEEDED", 15_000);
    deepEqual(ok.statusDetails, { bundle: "app", version: "2.0.0" });
    equal(await Deno.readLink(join(app, "current")), "releases/2.0.0");
    equal(await Deno.readTextFile(join(app, "current", "app.txt")), "app 2.0.0\n");

    await w.peer.createJob(
      "b2",
      await w.release(await tarball(w.dir, "2.1.0", 3), { version: "2.1.0", bundle: "app" }),
      [THING],
    );
    const bad = await w.peer.waitStatus(THING, "b2", "FAILED", 15_000);
    equal(bad.statusDetails.reason, "post-install");
    match(bad.statusDetails.message!, /post-install command exited 3; back to 2\.0\.0/);
    equal(await Deno.readLink(join(app, "current")), "releases/2.0.0");
    // 2.0.0 installed, 2.1.0 tried, 2.0.0's command run again after the rollback.
    equal(await Deno.readTextFile(join(app, "installed.log")), "2.0.0\n2.1.0\n2.0.0\n");

    await w.peer.createJob(
      "b3",
      await w.release(await tarball(w.dir, "3.0.0", 0), { version: "3.0.0", bundle: "other" }),
      [THING],
    );
    const unknown = await w.peer.waitStatus(THING, "b3", "FAILED", 15_000);
    equal(unknown.statusDetails.reason, "unknown-bundle");
    equal(await Deno.readLink(join(app, "current")), "releases/2.0.0");
  } finally {
    await agent.stop();
  }
});
