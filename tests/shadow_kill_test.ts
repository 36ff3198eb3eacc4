/**
 * kill -9 during shadow updates, ten times: a child device updates its
 * shadow continuously and is killed at a random moment; after each kill a
 * fresh device on the same SQLite file converges with moto's document
 * (same reported state, same version), and no update the child was told
 * was stored (`ack N`) is lost.
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { until } from "./helpers/wait.ts";
import { shadowWorld, skipShadowTests, THING } from "./shadow_helpers.ts";

const ignore = skipShadowTests(import.meta.url);
const CHILD = new URL("./shadow_kill_child.ts", import.meta.url).pathname;

Deno.test({
  name:
    "kill -9 during an update, 10 times: after each restart device and moto hold the same document",
  ignore,
  async fn() {
    await using w = await shadowWorld();
    const db = join(w.dir, "tern.db");
    for (let round = 0; round < 10; round++) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", CHILD, w.broker.url, db, THING],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      let out = "";
      const reading = (async () => {
        for await (const c of child.stdout.pipeThrough(new TextDecoderStream())) out += c;
      })();
      const errors = new Response(child.stderr).text();
      await until(() => out.includes("ack"), { ms: 20_000, what: "the child's first update" });
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 400));
      child.kill("SIGKILL");
      await child.status;
      await reading;
      const acked = Math.max(...[...out.matchAll(/ack (\d+)\n/g)].map((m) => Number(m[1])));
      ok(acked > 0, await errors);
      await using dev = await w.device({ thermostat: { sync: { mode: "change", debounce: 5 } } });
      const t = dev.shadows.get("thermostat");
      ok(Number(t.get().reported.n) >= acked, `round ${round}: ack ${acked} kept`);
      await t.synced(AbortSignal.timeout(15_000));
      await w.peer.drained();
      const doc = await w.peer.read(THING, "thermostat");
      deepEqual(doc?.state.reported, t.get().reported, `round ${round}`);
      equal(doc?.version, t.get().version, `round ${round}`);
      await dev.stop();
    }
  },
});
