/**
 * `tern check-config` (validate and summarise), `tern permissions` (the exact
 * Deno flags the config needs) and `tern version`.
 */

import denoJson from "../../deno.json" with { type: "json" };
import { derivePermissions, permissionFlags } from "../config/mod.ts";
import { type CliIo, type Command, EXIT, type GlobalFlags, UsageError } from "./_command.ts";
import { loadFromFlags } from "./_setup.ts";
import { LATER_MODULES } from "../later.ts";
import { join, resolve } from "../path.ts";

export const VERSION: string = denoJson.version;

function _noArgs(args: string[], allowed: string[] = []): void {
  const extra = args.find((a) => !allowed.includes(a));
  if (extra !== undefined) {
    throw new UsageError(
      extra.startsWith("-") ? `Unknown option "${extra}"` : `Unexpected argument "${extra}"`,
    );
  }
}

export const checkConfigCommand: Command = {
  name: "check-config",
  usage: `Usage: tern check-config [--config DIR] [--profile NAME] [--json]

Loads DIR (tern.json5, device.json5, schema.json5, profiles/NAME.json5,
local.json5 and env overrides), validates it and prints every problem with its
file and key path. Exit 0 when valid, 78 when not.
  --json   print the effective configuration (secrets redacted) as JSON`,
  run(args: string[], flags: GlobalFlags, io: CliIo): Promise<number> {
    _noArgs(args, ["--json"]);
    const loaded = loadFromFlags(flags);
    if (args.includes("--json")) {
      let text = JSON.stringify(loaded.config, null, 2);
      for (const s of loaded.secrets) text = text.replaceAll(JSON.stringify(s), '"[redacted]"');
      io.out(text);
    } else {
      const files = loaded.files.length ? loaded.files.join(", ") : "none (embedded default)";
      const services = Object.entries(loaded.config)
        .filter(([, v]) =>
          typeof v === "object" && v !== null && (v as { enabled?: boolean }).enabled === true
        )
        .map(([k]) => k);
      io.out(
        `Configuration OK\n  config dir: ${loaded.configDir}\n  files: ${files}\n` +
          `  state dir: ${loaded.stateDir}\n  mode: ${loaded.config.agent.mode}\n` +
          `  enabled: ${services.join(", ") || "nothing"}`,
      );
    }
    return Promise.resolve(EXIT.ok);
  },
};

export const permissionsCommand: Command = {
  name: "permissions",
  usage: `Usage: tern permissions [--config DIR] [--profile NAME] [--json] [--bundle DIR]

Prints one flag per line (--allow-read=…, --allow-write=…, --allow-net=host:port,
--allow-env=…); never -A. The same derivation is baked into compiled binaries
and checked at start.
  --json         print the permission sets as JSON
  --bundle DIR   for running a bundle of \`deno task build\` (dist/NAME): its
                 cloud modules are read from DIR, not from beside the code`,
  run(args: string[], flags: GlobalFlags, io: CliIo): Promise<number> {
    const at = args.indexOf("--bundle");
    const bundle = at >= 0 ? args[at + 1] : undefined;
    if (at >= 0 && (bundle === undefined || bundle.startsWith("-"))) {
      throw new UsageError("Option --bundle needs a directory (dist/NAME of deno task build)");
    }
    _noArgs(at >= 0 ? args.toSpliced(at, 2) : args, ["--json"]);
    const loaded = loadFromFlags(flags);
    const code = bundle === undefined ? undefined : [bundleDir(bundle)];
    const needs = derivePermissions(loaded.config, loaded, code);
    io.out(
      args.includes("--json") ? JSON.stringify(needs, null, 2) : permissionFlags(needs).join("\n"),
    );
    return Promise.resolve(EXIT.ok);
  },
};

/** The absolute path of a bundle's directory; a `UsageError` when `dir` holds none. */
function bundleDir(dir: string): string {
  const abs = resolve(dir);
  const probe = join(abs, LATER_MODULES[0].replace(/\.ts$/, ".js"));
  try {
    Deno.statSync(probe);
  } catch {
    throw new UsageError(`${dir} is not a bundle of deno task build (no ${probe})`);
  }
  return abs;
}

export const versionCommand: Command = {
  name: "version",
  usage: "Usage: tern version\n\nPrints Tern's version and the Deno, V8 and TypeScript versions.",
  run(args: string[], _flags: GlobalFlags, io: CliIo): Promise<number> {
    _noArgs(args);
    io.out(
      `tern ${VERSION} (deno ${Deno.version.deno}, v8 ${Deno.version.v8}, ${Deno.build.target})`,
    );
    return Promise.resolve(EXIT.ok);
  },
};
