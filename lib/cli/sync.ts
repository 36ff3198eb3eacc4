/**
 * `tern sync …`: replication with DynamoDB from a shell.
 *
 * - `status [--json]`: synced models and their backlog, last success and
 *   last error per direction, cursors, conflicts — read from the database,
 *   so it works while the agent runs and while offline.
 * - `now`: send what is pending, then read what changed in the cloud, once.
 * - `full`: re-send every local item of models synced up, and re-read every
 *   cloud item addressed to this device (cursors ignored).
 *
 * The sync engine and the AWS SDK are imported only when a subcommand runs.
 * Exit codes: 0 ok, 64 bad arguments, 78 configuration problem (sync off,
 * no region), 1 the sync failed (network, credentials, table missing).
 */

import { later } from "../later.ts";
import { resolve } from "../path.ts";
import { storedIdentity } from "./_identity.ts";
import { type LoadedConfig, syncEndpoint } from "../config/mod.ts";
import { Database } from "../db/mod.ts";
import { deviceId } from "../state.ts";
import { type CliIo, type Command, EXIT, type GlobalFlags, UsageError } from "./_command.ts";
import { loadFromFlags } from "./_setup.ts";

const USAGE = `Usage: tern sync SUBCOMMAND

  status [--json]   backlog per model, last success and error, cursors, conflicts
  now               send pending changes, then read cloud changes, once
  full              re-send every item of models synced up; re-read everything down

Which models replicate is set per model in schema.json5 ("sync": "up" | "down" | "both",
"table"); the engine's settings are in the "sync" section of tern.json5 (see docs/sync.md).

Exit codes: 0 ok, 64 bad arguments, 78 configuration problem, 1 the sync failed.`;

export const syncCommand: Command = {
  name: "sync",
  usage: USAGE,
  async run(args: string[], flags: GlobalFlags, io: CliIo): Promise<number> {
    const [sub, ...rest] = args;
    if (sub === undefined) throw new UsageError("Missing subcommand (status, now, full)");
    if (!["status", "now", "full"].includes(sub)) {
      throw new UsageError(`Unknown subcommand "${sub}" (subcommands: status, now, full)`);
    }
    const json = rest.includes("--json");
    const extra = rest.filter((a) => a !== "--json" || sub !== "status");
    if (extra.length) throw new UsageError(`Unexpected argument "${extra[0]}"`);
    const loaded = loadFromFlags(flags);
    const { config } = loaded;
    if (!config.sync.enabled && sub !== "status") {
      io.err('tern sync: sync is off (set "sync.enabled": true in tern.json5)');
      return EXIT.config;
    }
    const db = Database.open({
      path: resolve(loaded.stateDir, config.database.path),
      schema: config.schema.models,
      synchronous: config.database.synchronous,
      changeLogLimit: config.database.changeLogLimit,
      purgeInterval: 0,
    });
    try {
      return sub === "status"
        ? await _status(db, loaded, json, io)
        : await _run(db, loaded, sub as "now" | "full", io);
    } finally {
      db.close();
    }
  },
};

async function _status(db: Database, loaded: LoadedConfig, json: boolean, io: CliIo) {
  const { SyncState, planModels, readStatus } = await later<
    typeof import("../../sync/status_mod.ts")
  >("sync/status_mod.ts");
  const status = readStatus(db, new SyncState(db.sql), planModels(db, loaded.config.sync));
  if (json) {
    io.out(JSON.stringify({ enabled: loaded.config.sync.enabled, ...status }, null, 2));
    return EXIT.ok;
  }
  const lines = [`sync: ${loaded.config.sync.enabled ? "on" : "off"}`];
  lines.push(`backlog: ${status.backlog} change(s) to send; up cursor at ${status.cursors.up}`);
  for (const m of status.models) {
    lines.push(
      `  ${m.name.padEnd(20)} ${m.direction.padEnd(5)} table ${m.table}, ` +
        `${m.backlog} pending${m.direction === "both" ? `, conflicts: ${m.conflict}` : ""}`,
    );
  }
  for (const d of ["up", "down"] as const) {
    const s = status[d];
    lines.push(
      `${d}: last success ${s.lastSuccess ?? "never"}` +
        (s.lastError ? `; last error ${s.lastError.at}: ${s.lastError.message}` : ""),
    );
  }
  for (const [k, v] of Object.entries(status.cursors.down)) lines.push(`  down ${k}: ${v}`);
  lines.push(`conflicts: ${status.conflicts}`);
  io.out(lines.join("\n"));
  return EXIT.ok;
}

async function _run(db: Database, loaded: LoadedConfig, sub: "now" | "full", io: CliIo) {
  const { config } = loaded;
  const { credentialsFromConfig } = await later<typeof import("../aws/mod.ts")>("lib/aws/mod.ts");
  const { createDynamoClient, SyncEngine } = await later<typeof import("../../sync/mod.ts")>(
    "sync/mod.ts",
  );
  const id = deviceId(loaded.stateDir, config.device.id);
  if (!syncEndpoint(config.sync, config.aws.region)) {
    io.err('tern sync: sync needs a region: set "aws.region" or "sync.region"');
    return EXIT.config;
  }
  await using creds = await credentialsFromConfig(config, {
    configDir: loaded.configDir,
    deviceId: id,
    // A provisioned device's IoT credentials: the identity the agent keeps in the state dir.
    ...(config.provision.enabled ? { identity: () => storedIdentity(loaded) } : {}),
  });
  const ddb = createDynamoClient({
    sync: config.sync,
    ...(config.aws.region ? { awsRegion: config.aws.region } : {}),
    credentials: creds.provider,
  });
  try {
    await using engine = new SyncEngine({ db, ddb, deviceId: id, config: config.sync });
    const signal = AbortSignal.timeout(10 * 60_000);
    const r = sub === "now" ? await engine.syncNow(signal) : await engine.full(signal);
    io.out(
      `up: ${r.up.accepted} item(s) sent, ${r.up.failed} not accepted; ` +
        `down: ${r.down.read} read, ${r.down.applied} applied`,
    );
    return r.up.failed > 0 ? EXIT.failure : EXIT.ok;
  } catch (e) {
    io.err(`tern sync ${sub}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return EXIT.failure;
  } finally {
    await ddb[Symbol.asyncDispose]();
  }
}
