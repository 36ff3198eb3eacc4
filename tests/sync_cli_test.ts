/**
 * `tern sync status|now|full` in-process against dynalite, with a config
 * directory the way a user writes it.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { syncCommand } from "../lib/cli/sync.ts";
import { Database } from "../lib/db/mod.ts";
import { scanTable } from "./helpers/dynalite.ts";
import { SCHEMA, TABLE, tempDir, TEST_CREDENTIALS } from "./sync_helpers.ts";
import { syncCloud } from "./sync_setup.ts";
import { installIdentity } from "../lib/cloud/provision/mod.ts";
import { makeTlsFixtures } from "./helpers/tls.ts";
import { startIotCredentialsServer } from "./helpers/aws_iot_credentials_server.ts";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

/** A config dir (`tern` as tern.json5, device dev-7, the test schema) and a state dir under `dir`. */
async function writeConfig(dir: string, tern: Record<string, unknown>) {
  const config = join(dir, "config");
  const state = join(dir, "state");
  await Deno.mkdir(config);
  await Deno.writeTextFile(join(config, "tern.json5"), JSON.stringify(tern));
  await Deno.writeTextFile(join(config, "device.json5"), JSON.stringify({ id: "dev-7" }));
  await Deno.writeTextFile(join(config, "schema.json5"), JSON.stringify({ models: SCHEMA }));
  return { config, state };
}

Deno.test("tern sync now sends pending items; status shows backlog, cursors and last success", async () => {
  await using s = await syncCloud();
  const { dir, ddb } = s;
  const { config, state } = await writeConfig(dir, {
    aws: { region: "eu-west-1", credentials: TEST_CREDENTIALS },
    sync: { enabled: true, endpoint: ddb.endpoint, table: TABLE },
  });
  {
    using db = Database.open({ path: join(state, "tern.db"), schema: SCHEMA, purgeInterval: 0 });
    db.create("Reading", { deviceId: "dev-7", time: "2026-01-01T00:00:00Z", value: 1 });
    db.create("Reading", { deviceId: "dev-7", time: "2026-01-01T00:00:01Z", value: 2 });
  }
  const flags = { config, state };
  let c = capture();
  assert.equal(await syncCommand.run(["status", "--json"], flags, c.io), 0);
  const before = JSON.parse(c.out.join(""));
  assert.equal(before.enabled, true);
  assert.equal(before.backlog, 2);
  assert.equal(before.up.lastSuccess, undefined);

  c = capture();
  assert.equal(await syncCommand.run(["now"], flags, c.io), 0, c.err.join("\n"));
  assert.match(c.out.join(""), /up: 2 item\(s\) sent/);
  const items = await scanTable(ddb.client(), TABLE);
  assert.deepEqual(items.map((i) => [i.pk, i.value, i._device]), [
    ["Sensor#dev-7", 1, "dev-7"],
    ["Sensor#dev-7", 2, "dev-7"],
  ]);

  c = capture();
  assert.equal(await syncCommand.run(["status"], flags, c.io), 0);
  const text = c.out.join("\n");
  assert.match(text, /backlog: 0 change\(s\)/);
  assert.match(text, /Reading\s+up\s+table tern-data, 0 pending/);
  assert.match(text, /up: last success \d{4}-/);

  c = capture();
  assert.equal(await syncCommand.run(["full"], flags, c.io), 0);
  assert.match(c.out.join(""), /up: 2 item\(s\) sent/);
});

Deno.test("tern sync now with sync off exits 78 and names the key", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const c = capture();
  assert.equal(await syncCommand.run(["now"], { config: dir, state: join(dir, "s") }, c.io), 78);
  assert.match(c.err.join(""), /sync\.enabled/);
  await assert.rejects(syncCommand.run(["bogus"], {}, c.io), /Unknown subcommand "bogus"/);
});

Deno.test("tern sync now on a provisioned device gets its AWS keys with the provisioned identity", async () => {
  await using s = await syncCloud();
  const { dir, ddb } = s;
  await using tls = await makeTlsFixtures();
  await using iot = await startIotCredentialsServer(tls);
  // No certificate in config: provisioning's identity, in the state dir, is the device's.
  const { config, state } = await writeConfig(dir, {
    aws: {
      region: "eu-west-1",
      iot: { credentialsEndpoint: iot.endpoint, roleAlias: "tern-role" },
    },
    mqtt: { ca: tls.paths.caCert },
    provision: { enabled: true },
    sync: { enabled: true, endpoint: ddb.endpoint, table: TABLE },
  });
  await installIdentity({
    dir: join(state, "identity"),
    certPem: tls.clientCert,
    keyPem: tls.clientKey,
    thing: "pump-0042",
    now: Date.now(),
  });
  {
    using db = Database.open({ path: join(state, "tern.db"), schema: SCHEMA, purgeInterval: 0 });
    db.create("Reading", { deviceId: "dev-7", time: "2026-01-01T00:00:00Z", value: 1 });
  }
  const c = capture();
  assert.equal(await syncCommand.run(["now"], { config, state }, c.io), 0, c.err.join("\n"));
  assert.match(c.out.join(""), /up: 1 item\(s\) sent/);
  assert.deepEqual(iot.requests[0], {
    path: "/role-aliases/tern-role/credentials",
    thing: "pump-0042",
    cn: "tern-device",
  });
  assert.deepEqual((await scanTable(ddb.client(), TABLE)).map((i) => i.value), [1]);
});
