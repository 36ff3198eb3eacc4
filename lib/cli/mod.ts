/**
 * The CLI: global flags, command dispatch, `help`, exit codes.
 *
 * `tern [GLOBAL FLAGS] [COMMAND] [ARGS]`; global flags may also follow the
 * command. Exit codes: 0 ok, 64 usage error, 78 configuration error,
 * 1 failure at run time, 75 (`tern run`) restart me: an update changed the binary.
 */

import { ConfigError } from "../config/mod.ts";
import type { CliApp, CliIo, Command, GlobalFlags } from "./_command.ts";
import { EXIT, UsageError } from "./_command.ts";
import { later } from "../later.ts";
import { runCommand } from "./run.ts";

export type { CliApp, CliIo, Command, GlobalFlags } from "./_command.ts";
export { EXIT, UsageError } from "./_command.ts";
export { runAgent, type RunOptions } from "./run.ts";
export { settleHeap, settleWhenIdle } from "./_settle.ts";
export { buildLogHub, loadFromFlags } from "./_setup.ts";

/**
 * A command as `tern help` lists it. Its module is imported only when the
 * command runs or its usage is shown, through `later` (lib/later.ts: a path
 * computed at run time), so `tern run` (the agent) does not even read every
 * other command's code at start.
 */
export interface CommandEntry {
  name: string;
  /** One line for `tern help`. */
  summary: string;
  load(): Promise<Command>;
}

/** Every command, in help order. Later subsystems add theirs here. */
export const COMMANDS: CommandEntry[] = [
  {
    name: "run",
    summary: "Start the agent (the default command)",
    load: () => Promise.resolve(runCommand),
  },
  {
    name: "check-config",
    summary: "Validate the configuration and report every problem at once",
    load: async () =>
      (await later<typeof import("./config_commands.ts")>("lib/cli/config_commands.ts"))
        .checkConfigCommand,
  },
  {
    name: "permissions",
    summary: "Print the exact Deno permission flags the configuration needs",
    load: async () =>
      (await later<typeof import("./config_commands.ts")>("lib/cli/config_commands.ts"))
        .permissionsCommand,
  },
  {
    name: "db",
    summary:
      "Look at and change the device's data (models, get, find, put, delete, export, import)",
    load: async () => (await later<typeof import("./db.ts")>("lib/cli/db.ts")).dbCommand,
  },
  {
    name: "sync",
    summary: "Replication with DynamoDB: status, now, full",
    load: async () => (await later<typeof import("./sync.ts")>("lib/cli/sync.ts")).syncCommand,
  },
  {
    name: "cloud",
    summary: "Cloud streams (CloudWatch Logs, metrics…): status of their spool",
    load: async () => (await later<typeof import("./cloud.ts")>("lib/cli/cloud.ts")).cloudCommand,
  },
  {
    name: "upload",
    summary: "S3 uploads: list, status, cancel",
    load: async () =>
      (await later<typeof import("./upload.ts")>("lib/cli/upload.ts")).uploadCommand,
  },
  {
    name: "shadow",
    summary: "AWS IoT Device Shadows: status and local copies",
    load: async () =>
      (await later<typeof import("./shadow.ts")>("lib/cli/shadow.ts")).shadowCommand,
  },
  {
    name: "provision",
    summary: "The device's identity: status, or install factory-placed certificate files",
    load: async () =>
      (await later<typeof import("./provision.ts")>("lib/cli/provision.ts")).provisionCommand,
  },
  {
    name: "update",
    summary: "Over-the-air updates through IoT Jobs: status, check",
    load: async () =>
      (await later<typeof import("./update.ts")>("lib/cli/update.ts")).updateCommand,
  },
  {
    name: "audit",
    summary: "The audit trail: verify its hash chain, list or export events",
    load: async () => (await later<typeof import("./audit.ts")>("lib/cli/audit.ts")).auditCommand,
  },
  {
    name: "user",
    summary: "Manage web users (add, passwd, remove, list)",
    load: async () => (await later<typeof import("./users.ts")>("lib/cli/users.ts")).userCommand,
  },
  {
    name: "token",
    summary: "Manage API bearer tokens (create, list, revoke)",
    load: async () => (await later<typeof import("./users.ts")>("lib/cli/users.ts")).tokenCommand,
  },
  {
    name: "version",
    summary: "Print the version",
    load: async () =>
      (await later<typeof import("./config_commands.ts")>("lib/cli/config_commands.ts"))
        .versionCommand,
  },
];

const GLOBALS: Record<string, keyof GlobalFlags> = {
  "--config": "config",
  "--state": "state",
  "--profile": "profile",
  "--log-level": "logLevel",
};

const GLOBAL_HELP = `Global flags:
  --config DIR       config directory (default ./config, env TERN_CONFIG)
  --state DIR        state directory (default agent.state or ./state, env TERN_STATE)
  --profile NAME     apply profiles/NAME.json5 (env TERN_PROFILE)
  --log-level LEVEL  debug, info, warn, error or off
  -h, --help         help for any command`;

/** Split global flags from the rest. Throws UsageError on a flag without its value. */
export function parseGlobals(
  argv: string[],
): { flags: GlobalFlags; rest: string[]; help: boolean } {
  const flags: GlobalFlags = {};
  const rest: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (arg === "-h" || arg === "--help") {
      help = true;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const key = GLOBALS[name];
    if (!key) {
      rest.push(arg);
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === "" || (eq < 0 && value.startsWith("--"))) {
      throw new UsageError(`Option ${name} needs a value`);
    }
    flags[key] = value;
  }
  return { flags, rest, help };
}

function _help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return `Tern ${"—"} a device agent for ARM Linux devices

Usage: tern [COMMAND] [OPTIONS]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join("\n")}
  ${"help".padEnd(width)}Show help for a command

${GLOBAL_HELP}

Exit codes: 0 ok, 64 usage error, 78 configuration error, 1 failure at run time,
75 (tern run) restart me: an update changed the binary.`;
}

/** Run the CLI of `app` (main.ts passes the agent's services); returns the exit code. */
export async function cli(argv: string[], app: CliApp, io: CliIo = stdio): Promise<number> {
  let command: Command | undefined;
  try {
    const { flags, rest, help } = parseGlobals(argv);
    let name = rest[0] ?? "run";
    if (name === "help") {
      const topic = rest[1];
      if (topic === undefined) {
        io.out(_help());
        return EXIT.ok;
      }
      const entry = COMMANDS.find((c) => c.name === topic);
      if (!entry) throw new UsageError(`Unknown command "${topic}"`);
      command = await entry.load();
      io.out(`${command.usage}\n\n${GLOBAL_HELP}`);
      return EXIT.ok;
    }
    if (name.startsWith("-") && rest.length) {
      if (!help) throw new UsageError(`Unknown option "${name}"`);
      name = "run";
    }
    const entry = COMMANDS.find((c) => c.name === name);
    if (!entry) {
      if (help && rest.length === 0) {
        io.out(_help());
        return EXIT.ok;
      }
      throw new UsageError(
        `Unknown command "${name}" (commands: ${COMMANDS.map((c) => c.name).join(", ")}, help)`,
      );
    }
    command = await entry.load();
    if (help) {
      io.out(`${command.usage}\n\n${GLOBAL_HELP}`);
      return EXIT.ok;
    }
    return await command.run(rest.slice(rest[0] === undefined ? 0 : 1), flags, io, app);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(
        `tern: ${e.message}\n\n${command ? command.usage : 'Run "tern help" for the commands.'}`,
      );
      return EXIT.usage;
    }
    if (e instanceof ConfigError) {
      io.err(e.message);
      return EXIT.config;
    }
    io.err(`tern: ${e instanceof Error ? e.message : String(e)}`);
    return EXIT.failure;
  }
}

const enc = new TextEncoder();
const stdio: CliIo = {
  out: (t) => void Deno.stdout.writeSync(enc.encode(t + "\n")),
  err: (t) => void Deno.stderr.writeSync(enc.encode(t + "\n")),
};
