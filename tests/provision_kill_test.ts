/**
 * `kill -9` of an agent at every step of provisioning by claim (key written,
 * certificate received, thing registered) and of a rotation (key,
 * certificate, registered, switch to the new certificate), each twice, each
 * on a fresh device. The peer holds its replies a little so the kill lands
 * while the step is in flight. After the kill an agent on the same state
 * directory resumes or restarts the flow and ends connected with a whole
 * identity: the key is the certificate's, the certificate is one the cloud
 * registered for the thing, every file is 0600 and no stray key remains.
 */

import assert from "node:assert/strict";
import { keyMatchesCert } from "../lib/cloud/provision/mod.ts";
import { skipWithout } from "./helpers/peers.ts";
import { forEachLine, killAndCheck, spawnDeno } from "./helpers/process.ts";
import { until } from "./helpers/wait.ts";
import {
  identityFiles,
  identityOf,
  provisionWorld,
  THING,
  type World,
} from "./provision_helpers.ts";

const ignore = skipWithout("mosquitto", import.meta.url);
const CHILD = new URL("./provision_kill_child.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;
const FLAGS = [
  `--config=${CONFIG}`,
  "--allow-read",
  "--allow-write",
  "--allow-net=127.0.0.1,localhost",
  "--allow-env",
];
const HOUR = 3_600_000;
const ROUNDS = 2;

/** Run the child until it records `purpose step`, then SIGKILL it. */
async function killAt(w: World, purpose: string, step: string): Promise<void> {
  const child = spawnDeno(FLAGS, CHILD, [w.dir, w.stateDir, JSON.stringify(w.input())]);
  const seen = Promise.withResolvers<void>();
  const lines: string[] = [];
  const reader = forEachLine(child.stdout, (line) => {
    lines.push(line);
    if (line === `step ${purpose} ${step}`) seen.resolve();
  });
  const stderr = new Response(child.stderr).text();
  const timer = setTimeout(
    () => seen.reject(new Error(`no "${purpose} ${step}" in ${lines.join(" | ")}`)),
    20_000,
  );
  try {
    await Promise.race([seen.promise, child.status.then(() => seen.promise)]);
  } finally {
    clearTimeout(timer);
    await killAndCheck(child, reader, stderr, `${purpose} ${step}`);
  }
}

async function assertWhole(w: World, midFlow = false): Promise<string> {
  const id = identityOf(w.stateDir);
  assert.equal(id.thing, THING);
  assert.ok(await keyMatchesCert(id.keyPem, id.certPem), "the key is the certificate's");
  assert.ok(w.peer.things.get(THING)?.includes(id.certificateId), "a registered certificate");
  const all = identityFiles(w.stateDir);
  for (const f of all) assert.equal(f.mode, 0o600, f.name);
  // Mid-flow, beside the identity in force there may be the flow's own key, and a kill inside the
  // commit leaves the next pair's files or a torn temp file: the next start sweeps them (checked
  // after the restart, where only the identity in force may remain).
  const inForce = new Set(["identity.json", id.cert, id.key]);
  const files = midFlow ? all.filter((f) => inForce.has(f.name)) : all;
  assert.equal(files.length, 3, JSON.stringify(all));
  return id.certificateId;
}

for (const step of ["key", "certificate", "registered"]) {
  Deno.test({
    name:
      `kill -9 at claim step "${step}" (${ROUNDS}×): the next start ends provisioned with a whole identity`,
    ignore,
    fn: async () => {
      for (let round = 0; round < ROUNDS; round++) {
        await using w = await provisionWorld({ hold: 150 });
        await killAt(w, "claim", step);
        await using a = await w.agent();
        await w.connected(a);
        assert.equal(a.provision().state, "provisioned");
        await assertWhole(w);
      }
    },
  });
}

for (const step of ["key", "certificate", "registered", "switch"]) {
  Deno.test({
    name:
      `kill -9 at rotation step "${step}" (${ROUNDS}×): the rotation resumes or restarts and commits`,
    ignore,
    fn: async () => {
      for (let round = 0; round < ROUNDS; round++) {
        await using w = await provisionWorld({
          hold: 150,
          validity: (n) =>
            n === 0
              ? {
                notBefore: new Date(Date.now() - 23 * HOUR),
                notAfter: new Date(Date.now() + HOUR),
              }
              : {
                notBefore: new Date(Date.now() - 60_000),
                notAfter: new Date(Date.now() + 24 * HOUR),
              },
        });
        await killAt(w, "rotate", step);
        // Killed mid-rotation: the identity in force is whole (old, or new if the commit landed).
        await assertWhole(w, true);
        await using a = await w.agent();
        // A kill just after the cloud took the token makes the resumed RegisterThing fail (token
        // used): that attempt is dropped and the next one commits.
        await until(
          () => {
            const r = a.provision().lastResult as
              | { purpose?: string; outcome?: string }
              | undefined;
            return r?.purpose === "rotate" && r.outcome === "success";
          },
          {
            ms: 15_000,
            what: () => JSON.stringify(a.provision()),
          },
        );
        await w.connected(a);
        assert.equal((a.provision().lastResult as { outcome: string }).outcome, "success");
        const id = await assertWhole(w);
        assert.notEqual(id, w.peer.issued[0], "rotated away from the first certificate");
      }
    },
  });
}
