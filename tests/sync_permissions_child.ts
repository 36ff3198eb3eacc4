/**
 * Child of sync_permissions_test.ts: runs one sync round with exactly the
 * permissions `derivePermissions` gives its config (and `--no-prompt`).
 *
 * Usage: deno run --no-prompt FLAGS… sync_permissions_child.ts CONFIG_JSON STATE_DIR
 */

import { join } from "node:path";
import { configSchema } from "../lib/config/mod.ts";
import { Database } from "../lib/db/mod.ts";
import { createDynamoClient, SyncEngine } from "../sync/mod.ts";

if (import.meta.main) {
  const config = configSchema.parse(JSON.parse(Deno.args[0]!));
  const db = Database.open({
    path: join(Deno.args[1]!, config.database.path),
    schema: config.schema.models,
    purgeInterval: 0,
  });
  db.create("Reading", { deviceId: "d1", time: "2026-01-01T00:00:00Z", value: 42 });
  const ddb = createDynamoClient({
    sync: config.sync,
    awsRegion: config.aws.region!,
    credentials: () => Promise.resolve(config.aws.credentials!),
  });
  const engine = new SyncEngine({ db, ddb, deviceId: "d1", config: config.sync });
  const r = await engine.syncNow();
  await engine[Symbol.asyncDispose]();
  await ddb[Symbol.asyncDispose]();
  db.close();
  console.log(JSON.stringify(r));
}
