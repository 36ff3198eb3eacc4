/**
 * `tern user …` and `tern token …`: manage the web server's users and API
 * tokens from a shell, on the database the agent uses (safe while it runs:
 * SQLite WAL). A running agent notices ended sessions within a minute (or a
 * tenth of the idle timeout) and revoked tokens within 5 s.
 *
 *   tern user add NAME [--role ROLE] [--name "Full Name"]   (password from stdin, or prompted)
 *   tern user passwd NAME                                   (ends the user's sessions)
 *   tern user remove NAME
 *   tern user list
 *   tern token create --name NAME --role ROLE               (prints the token once)
 *   tern token list
 *   tern token revoke ID_OR_PREFIX
 *
 * Exit codes: 0 ok, 64 bad arguments, 78 configuration problem, 1 refused.
 */

import { resolve } from "../path.ts";
import { loadConfig, safeEnv } from "../config/mod.ts";
import type { Config } from "../config/mod.ts";
import type { Database } from "../db/mod.ts";
import { openFromFlags } from "./_open_db.ts";
import { cliActor, cliAudit } from "./audit.ts";
import { loadFromFlags } from "./_setup.ts";
import { type CliIo, type Command, EXIT, type GlobalFlags, UsageError } from "./_command.ts";
import { AuthStore, hashPassword, Roles, SessionAuth, USER_NAME } from "../web/mod.ts";
import { nullLogger } from "../log/mod.ts";
import { systemClock } from "../clock.ts";

function webConfig(flags: GlobalFlags): Config["web"] {
  const dir = flags.config ?? safeEnv("TERN_CONFIG");
  const state = flags.state ?? safeEnv("TERN_STATE");
  return loadConfig({
    dir: dir ?? "config",
    required: dir !== undefined,
    ...(flags.profile !== undefined ? { profile: flags.profile } : {}),
    overrides: { "agent.state": state === undefined ? undefined : resolve(state) },
  }).config.web;
}

function options(
  args: string[],
  allowed: string[],
): { pos: string[]; opt: Record<string, string> } {
  const pos: string[] = [];
  const opt: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith("--")) {
      if (!allowed.includes(a)) throw new UsageError(`Unknown option "${a}"`);
      const v = args[++i];
      if (v === undefined) throw new UsageError(`Option "${a}" needs a value`);
      opt[a.slice(2)] = v;
    } else pos.push(a);
  }
  return { pos, opt };
}

/** A password: the first line of stdin when it is not a terminal, else prompted twice. */
async function readPassword(io: CliIo): Promise<string> {
  let pw: string;
  if (!Deno.stdin.isTerminal()) {
    const text = await new Response(Deno.stdin.readable).text();
    pw = text.split(/\r?\n/)[0] ?? "";
  } else {
    pw = prompt("Password:") ?? "";
    if ((prompt("Again:") ?? "") !== pw) throw new UsageError("The passwords differ");
  }
  if (pw.length < 8) throw new UsageError("The password needs at least 8 characters");
  io.err("");
  return pw;
}

/** What a change made here records in the audit trail (nothing when it is off). */
type Record_ = (action: string, target: string, details?: Record<string, unknown>) => void;

async function withDb<T>(
  flags: GlobalFlags,
  fn: (db: Database, record: Record_) => T | Promise<T>,
): Promise<T> {
  const db = openFromFlags(flags);
  try {
    const trail = cliAudit(loadFromFlags(flags), db);
    const record: Record_ = (action, target, details) =>
      trail?.record({
        actor: cliActor(),
        source: "cli",
        action,
        target,
        ...(details ? { details } : {}),
      });
    return await fn(db, record);
  } finally {
    db.close();
  }
}

export const userCommand: Command = {
  name: "user",
  usage: `Usage: tern user SUBCOMMAND

  add NAME [--role ROLE] [--name TEXT]   create a user (role default "admin"); password from stdin or prompted
  passwd NAME                            set a new password (ends the user's sessions)
  remove NAME                            remove a user and their sessions
  list                                   print users as JSON lines`,
  async run(args: string[], flags: GlobalFlags, io: CliIo): Promise<number> {
    const [sub, ...rest] = args;
    const { pos, opt } = options(rest, ["--role", "--name"]);
    const web = webConfig(flags);
    const name = pos[0];
    const needName = () => {
      if (!name || !USER_NAME.test(name)) {
        throw new UsageError("A user name of letters, digits and _ . @ - (1 to 64) is needed");
      }
      return name;
    };
    switch (sub) {
      case "add": {
        const username = needName();
        const role = opt.role ?? "admin";
        new Roles(web.roles).check(role);
        const passwordHash = await hashPassword(await readPassword(io), web.auth.iterations);
        return withDb(flags, (db, record) => {
          const store = new AuthStore(db);
          if (store.getUser(username)) {
            io.err(`tern user: user "${username}" already exists`);
            return EXIT.failure;
          }
          db.transaction(() => {
            store.createUser({
              username,
              role,
              passwordHash,
              ...(opt.name ? { name: opt.name } : {}),
            });
            record("user.create", `user:${username}`, { role });
          });
          io.out(`Created user "${username}" (${role})`);
          return EXIT.ok;
        });
      }
      case "passwd": {
        const username = needName();
        const passwordHash = await hashPassword(await readPassword(io), web.auth.iterations);
        return withDb(flags, (db, record) => {
          const store = new AuthStore(db);
          if (!store.getUser(username)) {
            io.err(`tern user: no user "${username}"`);
            return EXIT.failure;
          }
          const ended = db.transaction(() => {
            store.updateUser(username, { passwordHash });
            const n = store.removeSessionsOf(username);
            record("user.update", `user:${username}`, { fields: ["password"], sessionsEnded: n });
            return n;
          });
          io.out(`Password changed for "${username}" (${ended} session(s) ended)`);
          return EXIT.ok;
        });
      }
      case "remove": {
        const username = needName();
        return withDb(flags, (db, record) => {
          const store = new AuthStore(db);
          if (!store.getUser(username)) {
            io.err(`tern user: no user "${username}"`);
            return EXIT.failure;
          }
          db.transaction(() => {
            store.removeUser(username);
            record("user.remove", `user:${username}`);
          });
          io.out(`Removed user "${username}"`);
          return EXIT.ok;
        });
      }
      case "list":
        return withDb(flags, (db) => {
          for (const u of new AuthStore(db).listUsers()) io.out(JSON.stringify(u));
          return EXIT.ok;
        });
      default:
        throw new UsageError(
          sub ? `Unknown subcommand "${sub}" (add, passwd, remove, list)` : "Missing subcommand",
        );
    }
  },
};

export const tokenCommand: Command = {
  name: "token",
  usage: `Usage: tern token SUBCOMMAND

  create --name NAME --role ROLE   create a token; it is printed once, only its hash is stored
  list                             print tokens (name, role, prefix, created) as JSON lines
  revoke ID_OR_PREFIX              remove a token

Use it as "Authorization: Bearer <token>".`,
  run(args: string[], flags: GlobalFlags, io: CliIo): Promise<number> {
    const [sub, ...rest] = args;
    const { pos, opt } = options(rest, ["--name", "--role"]);
    const web = webConfig(flags);
    return withDb(flags, async (db, record) => {
      const auth = new SessionAuth({
        store: new AuthStore(db),
        clock: systemClock,
        log: nullLogger,
      });
      switch (sub) {
        case "create": {
          if (!opt.name || !opt.role) throw new UsageError("--name and --role are needed");
          new Roles(web.roles).check(opt.role);
          const { token, prefix } = await auth.createToken(opt.name, opt.role);
          record("token.create", `token:${opt.name}`, { role: opt.role, prefix });
          io.out(token);
          return EXIT.ok;
        }
        case "list":
          for (const t of auth.store.listTokens()) {
            io.out(JSON.stringify({
              name: t.name,
              role: t.role,
              prefix: t.prefix,
              created: t.created,
            }));
          }
          return EXIT.ok;
        case "revoke": {
          if (!pos[0]) throw new UsageError("Which token? Give its prefix (see tern token list)");
          const which = auth.store.listTokens().filter((t) =>
            t.id === pos[0] || t.prefix === pos[0]
          );
          const n = db.transaction(() => {
            const n = auth.revokeToken(pos[0]!);
            for (const t of which) {
              record("token.revoke", `token:${t.name}`, { prefix: t.prefix, role: t.role });
            }
            return n;
          });
          if (n === 0) {
            io.err(`tern token: no token "${pos[0]}"`);
            return EXIT.failure;
          }
          io.out(`Revoked ${n} token(s)`);
          return EXIT.ok;
        }
        default:
          throw new UsageError(
            sub ? `Unknown subcommand "${sub}" (create, list, revoke)` : "Missing subcommand",
          );
      }
    });
  },
};
