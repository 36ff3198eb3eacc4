/**
 * Least privilege: a process granted only what `derivePermissions` lists
 * for a sync config (`--no-prompt`, so anything else fails at once) runs a
 * sync round against dynalite; without the endpoint sync adds, it fails.
 */

import assert from "node:assert/strict";
import { configSchema, derivePermissions, permissionFlags } from "../lib/config/mod.ts";
import { scanTable } from "./helpers/dynalite.ts";
import { SCHEMA, TABLE, TEST_CREDENTIALS } from "./sync_helpers.ts";
import { syncCloud } from "./sync_setup.ts";

const CHILD = new URL("./sync_permissions_child.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

Deno.test("sync runs with exactly the permissions derived from its config", async () => {
  await using s = await syncCloud({ memory: true });
  const { dir, ddb } = s;
  const input = {
    aws: { region: "eu-west-1", credentials: TEST_CREDENTIALS },
    sync: { enabled: true, endpoint: ddb.endpoint, table: TABLE },
    schema: { models: SCHEMA },
  };
  const needs = derivePermissions(configSchema.parse(input), {
    configDir: dir,
    stateDir: dir,
  });
  assert.ok(needs.net.includes(`127.0.0.1:${ddb.port}`));
  // No environment beyond Tern's own: sync's DynamoDB client reads none.
  assert.deepEqual(needs.env.filter((e) => !e.startsWith("TERN_")), []);
  const run = (flags: string[], state = dir) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--no-prompt",
        `--config=${CONFIG}`,
        ...flags,
        CHILD,
        JSON.stringify(input),
        state,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
  // Without what sync adds (its endpoint), the same child fails: the derivation matters.
  const endpoint = `127.0.0.1:${ddb.port}`;
  const bareDir = await Deno.makeTempDir({ dir, prefix: "bare_" });
  const bare = await run(
    permissionFlags({ ...needs, net: needs.net.filter((n) => n !== endpoint) }),
    bareDir,
  );
  assert.notEqual(bare.code, 0);
  assert.match(new TextDecoder().decode(bare.stderr), /Requires net access/);
  const out = await run(permissionFlags(needs));
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const report = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.equal(report.up.accepted, 1);
  const items = await scanTable(ddb.client(), TABLE);
  assert.equal(items[0]?.value, 42);
});
