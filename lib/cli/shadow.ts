/**
 * `tern shadow status [--json]` and `tern shadow get NAME`: the configured
 * Device Shadows as the agent's database holds them (table `_shadow`) —
 * version, last sync, what is waiting to be sent, and the local copy — so it
 * works while the agent runs and while it is offline. Exit codes: 0 ok,
 * 64 bad arguments (an unknown shadow), 78 configuration problem.
 */

import { resolve } from "../path.ts";
import { Database } from "../db/mod.ts";
import { later } from "../later.ts";
import { type CliIo, type Command, EXIT, type GlobalFlags, UsageError } from "./_command.ts";
import { loadFromFlags } from "./_setup.ts";

const USAGE = `Usage: tern shadow status [--json]
       tern shadow get NAME

  status [--json]   per configured shadow: version, last sync, fields waiting to be sent
  get NAME          one shadow's local copy: desired, reported, delta, pending, version (JSON)

Shadows are configured in "cloud.shadow" of tern.json5 (docs/shadows.md).

Exit codes: 0 ok, 64 bad arguments, 78 configuration problem.`;

export const shadowCommand: Command = {
  name: "shadow",
  usage: USAGE,
  async run(args: string[], flags: GlobalFlags, io: CliIo): Promise<number> {
    const [sub, ...rest] = args;
    if (sub !== "status" && sub !== "get") {
      throw new UsageError(
        sub === undefined
          ? "Missing subcommand (status, get)"
          : `Unknown subcommand "${sub}" (subcommands: status, get)`,
      );
    }
    const loaded = loadFromFlags(flags);
    const { config } = loaded;
    const sc = config.cloud.shadow;
    const thing = sc.thing ?? config.device.thing ?? config.device.id;
    const names = Object.keys(sc.shadows);
    if (sub === "get") {
      if (rest.length !== 1) throw new UsageError("Usage: tern shadow get NAME");
      if (!names.includes(rest[0]!)) {
        throw new UsageError(
          `Unknown shadow "${rest[0]}" (configured: ${names.join(", ") || "none"})`,
        );
      }
    } else {
      const extra = rest.filter((a) => a !== "--json");
      if (extra.length) throw new UsageError(`Unexpected argument "${extra[0]}"`);
    }
    // Loaded only when asked for: a local-mode agent's module graph holds no shadow code.
    const { ShadowStore, delta, diff } = await later<typeof import("../cloud/shadow/mod.ts")>(
      "lib/cloud/shadow/mod.ts",
    );
    const db = Database.open({
      path: resolve(loaded.stateDir, config.database.path),
      synchronous: config.database.synchronous,
      purgeInterval: 0,
    });
    try {
      const store = new ShadowStore(db.sql);
      // Without device.id in config the agent uses the generated id of its state dir: read every row.
      const rows = names.map((n) => {
        const e = sc.shadows[n]!;
        const aws = e.classic ? "" : (e.name ?? n);
        const row = thing ? store.load(thing, aws) : store.find(aws);
        const pending = {
          ...(e.direction === "both" ? { desired: diff(row.base.desired, row.desired) } : {}),
          ...(e.direction !== "cloudToDevice"
            ? { reported: diff(row.base.reported, row.reported) }
            : {}),
        };
        return {
          name: n,
          shadow: e.classic ? null : aws,
          direction: e.direction,
          version: row.version,
          exists: row.exists,
          lastSync: row.synced ? new Date(row.synced).toISOString() : null,
          pending: Object.fromEntries(
            Object.entries(pending).filter(([, v]) => Object.keys(v).length),
          ),
          desired: row.desired,
          reported: row.reported,
          delta: delta(row.desired, row.reported),
        };
      });
      if (sub === "get") {
        io.out(JSON.stringify(rows.find((r) => r.name === rest[0]), null, 2));
      } else if (rest.includes("--json")) {
        io.out(JSON.stringify({ enabled: sc.enabled, shadows: rows }, null, 2));
      } else {
        const lines = [`cloud.shadow: ${sc.enabled ? "on" : "off"}`];
        if (rows.length === 0) lines.push("no shadow configured");
        for (const r of rows) {
          const waiting = Object.values(r.pending).reduce((n, p) => n + Object.keys(p).length, 0);
          lines.push(
            `${r.name.padEnd(16)} ${
              r.shadow ?? "(classic)"
            }, ${r.direction}: version ${r.version}, ` +
              `last sync ${r.lastSync ?? "never"}, ${waiting} field(s) waiting`,
          );
        }
        io.out(lines.join("\n"));
      }
      return EXIT.ok;
    } finally {
      db.close();
    }
  },
};
