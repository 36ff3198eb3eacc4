/**
 * `tern cloud status [--json]`: every cloud stream's spool — backlog
 * (records, bytes), age of the oldest record, totals appended, sent, dropped
 * (spool full) and refused (by CloudWatch or its limits), last error and last
 * acknowledgement — read from the agent's database, so it works while the
 * agent runs and while it is offline. Exit codes: 0 ok, 64 bad arguments,
 * 78 configuration problem.
 */

import { resolve } from "../path.ts";
import { Database } from "../db/mod.ts";
import { spoolStatus, type StreamStatus } from "../cloud/mod.ts";
import { type CliIo, type Command, EXIT, type GlobalFlags, UsageError } from "./_command.ts";
import { loadFromFlags } from "./_setup.ts";

const USAGE = `Usage: tern cloud status [--json]

  status [--json]   per cloud stream: backlog, oldest age, sent, dropped, refused, last error

The streams and their bounds are set in the "cloud" section of tern.json5 (docs/cloud-logs.md,
docs/cloud-metrics.md).

Exit codes: 0 ok, 64 bad arguments, 78 configuration problem.`;

export const cloudCommand: Command = {
  name: "cloud",
  usage: USAGE,
  run(args: string[], flags: GlobalFlags, io: CliIo): Promise<number> {
    const [sub, ...rest] = args;
    if (sub === undefined) throw new UsageError("Missing subcommand (status)");
    if (sub !== "status") throw new UsageError(`Unknown subcommand "${sub}" (subcommands: status)`);
    const extra = rest.filter((a) => a !== "--json");
    if (extra.length) throw new UsageError(`Unexpected argument "${extra[0]}"`);
    const loaded = loadFromFlags(flags);
    const { config } = loaded;
    const db = Database.open({
      path: resolve(loaded.stateDir, config.database.path),
      synchronous: config.database.synchronous,
      purgeInterval: 0,
    });
    try {
      const streams = spoolStatus(db);
      if (rest.includes("--json")) {
        io.out(JSON.stringify(
          {
            logs: config.cloud.logs.enabled,
            metrics: config.cloud.metrics.enabled ? config.cloud.metrics.via : false,
            streams,
          },
          null,
          2,
        ));
      } else {
        io.out(formatStreams(config.cloud.logs.enabled, streams, config.cloud.metrics));
      }
      return Promise.resolve(EXIT.ok);
    } finally {
      db.close();
    }
  },
};

/** The text `tern cloud status` prints. */
export function formatStreams(
  logsOn: boolean,
  streams: StreamStatus[],
  metrics?: { enabled: boolean; via: string },
): string {
  const lines = [`cloud.logs: ${logsOn ? "on" : "off"}`];
  if (metrics) lines.push(`cloud.metrics: ${metrics.enabled ? `on (${metrics.via})` : "off"}`);
  if (streams.length === 0) lines.push("no cloud stream has stored anything yet");
  for (const s of streams) {
    const age = s.backlog ? `, oldest ${Math.round(s.oldestAgeMs / 1000)} s old` : "";
    lines.push(
      `${s.name.padEnd(16)} ${s.backlog} waiting (${s.bytes} bytes${age}); ` +
        `sent ${s.sent}, dropped ${s.dropped}, refused ${s.refused}`,
    );
    if (s.lastError) {
      lines.push(
        `${"".padEnd(16)} last error ${new Date(s.lastErrorAt ?? 0).toISOString()}: ${s.lastError}`,
      );
    }
  }
  return lines.join("\n");
}
