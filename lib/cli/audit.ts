/**
 * `tern audit verify|list|export`: the audit trail in the agent's database
 * (lib/db/audit.ts), read while the agent runs or while it is stopped.
 *
 *   tern audit verify                      check the hash chain; names the first broken link (exit 1)
 *   tern audit list [FILTERS] [--json]     one line per event (JSON lines with --json)
 *   tern audit export [FILTERS]            every matching event as JSON lines, for an archive
 *
 * Filters: --action NAME (a prefix when it ends in "."), --actor TYPE[:ID],
 * --outcome success|failure|denied, --since ISO, --until ISO, --limit N
 * (list only; default 100, newest last).
 *
 * Also `cliAudit()`: the trail of the CLI's own changes (`tern user`,
 * `tern token`), which it records for the agent to ship.
 *
 * Exit codes: 0 ok, 1 the chain is broken, 64 bad arguments, 78 configuration problem.
 */

import { resolve } from "../path.ts";
import { thingName } from "../service.ts";
import { storedIdentity } from "./_identity.ts";
import { type AuditEvent, type AuditFilter, AuditLog, Database } from "../db/mod.ts";
import type { LoadedConfig } from "../config/mod.ts";
import { deviceId } from "../state.ts";
import { systemClock } from "../clock.ts";
import { nullLogger } from "../log/mod.ts";
import { Spool } from "../cloud/spool.ts";
import { AuditTrail } from "../cloud/audit/trail.ts";
import { auditDestinations } from "../cloud/audit/destinations.ts";
import { type CliIo, type Command, EXIT, type GlobalFlags, UsageError } from "./_command.ts";
import { loadFromFlags } from "./_setup.ts";

const USAGE = `Usage: tern audit verify
       tern audit list [FILTERS] [--json]
       tern audit export [FILTERS]

  verify    check the hash chain: every event's hash, its link to the one before, no gaps;
            names the first broken link and exits 1 when there is one
  list      events, oldest first (the newest --limit, default 100)
  export    every matching event as JSON lines (for an archive)

Filters:
  --action NAME      exact action, or a prefix ending in "." (auth.)
  --actor TYPE[:ID]  user, token, cloud, agent, cli, device; e.g. user:alice
  --outcome VALUE    success, failure or denied
  --since ISO        from this time (inclusive)
  --until ISO        before this time
  --limit N          list only: at most N events (1 to 100000)

Exit codes: 0 ok, 1 the chain is broken, 64 bad arguments, 78 configuration problem.`;

const FLAGS = ["--action", "--actor", "--outcome", "--since", "--until", "--limit"];

/** The filters of `args`; UsageError for a bad one. */
export function parseFilters(
  args: string[],
  json: boolean,
): { filter: AuditFilter; json: boolean } {
  const filter: AuditFilter = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--json" && json) continue;
    if (!FLAGS.includes(a)) throw new UsageError(`Unknown option "${a}"`);
    const v = args[++i];
    if (v === undefined || v.startsWith("--")) throw new UsageError(`Option "${a}" needs a value`);
    const time = () => {
      const t = Date.parse(v);
      if (Number.isNaN(t)) throw new UsageError(`${a} needs an ISO 8601 time, got "${v}"`);
      return t;
    };
    if (a === "--action") filter.action = v;
    else if (a === "--actor") filter.actor = v;
    else if (a === "--outcome") {
      if (!["success", "failure", "denied"].includes(v)) {
        throw new UsageError(`--outcome must be success, failure or denied, got "${v}"`);
      }
      filter.outcome = v;
    } else if (a === "--since") filter.since = time();
    else if (a === "--until") filter.until = time();
    else {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 100_000) {
        throw new UsageError(`--limit must be 1 to 100000, got "${v}"`);
      }
      filter.limit = n;
    }
  }
  return { filter, json: args.includes("--json") };
}

function _open(loaded: LoadedConfig): Database {
  return Database.open({
    path: resolve(loaded.stateDir, loaded.config.database.path),
    synchronous: loaded.config.database.synchronous,
    purgeInterval: 0,
  });
}

/** One line of `tern audit list`. */
export function formatEvent(e: AuditEvent): string {
  const who = `${e.actor.type}:${e.actor.id}`;
  const details = e.details ? ` ${JSON.stringify(e.details)}` : "";
  return `${String(e.seq).padStart(6)} ${e.time} ${
    e.outcome.padEnd(7)
  } ${e.action} ${who} from ${e.source}` +
    `${e.target ? ` → ${e.target}` : ""}${details}`;
}

export const auditCommand: Command = {
  name: "audit",
  usage: USAGE,
  run(args: string[], flags: GlobalFlags, io: CliIo): Promise<number> {
    const [sub, ...rest] = args;
    if (sub === undefined) throw new UsageError("Missing subcommand (verify, list, export)");
    if (!["verify", "list", "export"].includes(sub)) {
      throw new UsageError(`Unknown subcommand "${sub}" (verify, list, export)`);
    }
    if (sub === "verify" && rest.length) throw new UsageError(`Unexpected argument "${rest[0]}"`);
    const { filter, json } = parseFilters(rest, sub === "list");
    if (sub === "export" && filter.limit !== undefined) {
      throw new UsageError("export takes every matching event (no --limit)");
    }
    const loaded = loadFromFlags(flags);
    const db = _open(loaded);
    try {
      const log = new AuditLog(db, { create: false });
      if (sub === "verify") {
        const v = log.verify();
        if (v.ok) {
          io.out(`ok: ${v.checked} events, chain intact up to seq ${v.lastSeq}`);
          return Promise.resolve(EXIT.ok);
        }
        const b = v.broken!;
        io.out(
          `BROKEN at seq ${b.seq}${b.id ? ` (event ${b.id})` : ""}: ${b.reason}; ` +
            `${v.checked} events before it are intact`,
        );
        return Promise.resolve(EXIT.failure);
      }
      if (sub === "list") {
        const limit = filter.limit ?? 100;
        const events = log.list({ ...filter, limit, reverse: true }).reverse();
        for (const e of events) io.out(json ? JSON.stringify(e) : formatEvent(e));
        if (!json && events.length === 0) io.err("no audit events match");
        return Promise.resolve(EXIT.ok);
      }
      let after = 0;
      for (;;) {
        const page = log.list({ ...filter, after, limit: 1000 });
        for (const e of page) io.out(JSON.stringify(e));
        if (page.length < 1000) break;
        after = page.at(-1)!.seq;
      }
      return Promise.resolve(EXIT.ok);
    } finally {
      db.close();
    }
  },
};

/** Who runs the CLI: the OS user id when Deno may read it without asking, else "shell". */
export function cliActor(): { type: "cli"; id: string } {
  try {
    if (Deno.permissions.querySync({ name: "sys", kind: "uid" }).state === "granted") {
      const uid = Deno.uid();
      if (uid !== null) return { type: "cli", id: `uid:${uid}` };
    }
  } catch { /* not allowed: fall through */ }
  return { type: "cli", id: "shell" };
}

/**
 * The audit trail for a CLI command's own changes on `db` (actor "cli",
 * source "cli"): recorded in the chain and in the destinations' spool
 * streams, which the running agent ships with its next batch.
 */
export function cliAudit(loaded: LoadedConfig, db: Database): AuditTrail | undefined {
  const config = loaded.config;
  if (!config.audit.enabled) return undefined;
  const device = deviceId(loaded.stateDir, config.device.id);
  const trail = new AuditTrail({ db, clock: systemClock, device });
  if (config.audit.cloudtrail.enabled || config.audit.logs.enabled) {
    const spool = Spool.of(db, { clock: systemClock, log: nullLogger });
    // {thing}: the provisioned identity's, as the agent names it.
    const thing = thingName(config, device, storedIdentity(loaded));
    trail.setDestinations(auditDestinations(config, spool, device, thing));
  }
  return trail;
}
