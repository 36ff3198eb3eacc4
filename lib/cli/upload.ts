/**
 * `tern upload list|status ID|cancel ID [--json]`: the S3 upload queue —
 * each upload's state, bytes sent of its size, parts done, retries and the
 * S3 error code of a failure — read from the agent's database, so it works
 * while the agent runs and while it is offline. `cancel` is stored in the
 * database; the running agent stops the upload between parts and aborts
 * its multipart upload. Exit codes: 0 ok, 1 no such upload or already
 * ended (cancel), 64 bad arguments, 78 configuration problem.
 */

import { resolve } from "../path.ts";
import { systemClock } from "../clock.ts";
import { Database } from "../db/mod.ts";
import { nullLogger } from "../log/mod.ts";
import { Spool } from "../cloud/spool.ts";
import {
  listProgress,
  type Progress,
  readProgress,
  requestCancel,
  UPLOAD_STREAM,
} from "../cloud/s3/mod.ts";
import { type CliIo, type Command, EXIT, type GlobalFlags, UsageError } from "./_command.ts";
import { loadFromFlags } from "./_setup.ts";

const USAGE = `Usage: tern upload <list | status ID | cancel ID> [--json]

  list [--json]        every queued, running and recently finished upload, newest first
  status ID [--json]   one upload: state, bytes sent, parts, retries, error code
  cancel ID            stop a queued or running upload (its multipart upload is aborted)

Uploads are queued by the device application (cloud.s3.upload), POST /api/uploads and
watched directories (cloud.s3.watch); see docs/s3.md.

Exit codes: 0 ok, 1 no such upload (or it had already ended), 64 bad arguments,
78 configuration problem.`;

/** One upload as a line of text. */
export function formatUpload(p: Progress): string {
  const pct = p.size ? Math.floor((p.sent / p.size) * 100) : 100;
  let line =
    `${p.id}  ${p.state.padEnd(9)} ${String(pct).padStart(3)}%  ${p.sent}/${p.size} bytes` +
    `  parts ${p.partsDone}/${p.parts}  s3://${p.bucket}/${p.key}`;
  if (p.retries) line += `  retries ${p.retries}`;
  if (p.code && p.state !== "done") line += `  ${p.code}: ${p.error ?? ""}`;
  return line;
}

export const uploadCommand: Command = {
  name: "upload",
  usage: USAGE,
  run(args: string[], flags: GlobalFlags, io: CliIo): Promise<number> {
    const json = args.includes("--json");
    const [sub, ...rest] = args.filter((a) => a !== "--json");
    if (sub === undefined) throw new UsageError("Missing subcommand (list, status, cancel)");
    if (!["list", "status", "cancel"].includes(sub)) {
      throw new UsageError(`Unknown subcommand "${sub}" (subcommands: list, status, cancel)`);
    }
    const want = sub === "list" ? 0 : 1;
    if (rest.length < want) throw new UsageError(`"${sub}" needs an upload id`);
    if (rest.length > want) throw new UsageError(`Unexpected argument "${rest[want]}"`);
    const loaded = loadFromFlags(flags);
    const db = Database.open({
      path: resolve(loaded.stateDir, loaded.config.database.path),
      synchronous: loaded.config.database.synchronous,
      purgeInterval: 0,
    });
    try {
      const stream = Spool.of(db, { clock: systemClock, log: nullLogger }).stream(UPLOAD_STREAM);
      if (sub === "list") {
        const all = listProgress(stream);
        if (json) io.out(JSON.stringify({ uploads: all }, null, 2));
        else io.out(all.length ? all.map(formatUpload).join("\n") : "no uploads");
        return Promise.resolve(EXIT.ok);
      }
      const id = rest[0]!;
      const p = readProgress(stream, id);
      if (!p) {
        io.err(`No upload "${id}"`);
        return Promise.resolve(EXIT.failure);
      }
      if (sub === "status") {
        io.out(json ? JSON.stringify(p, null, 2) : formatUpload(p));
        return Promise.resolve(EXIT.ok);
      }
      if (!requestCancel(stream, id)) {
        io.err(`Upload "${id}" already ended (${p.state})`);
        return Promise.resolve(EXIT.failure);
      }
      io.out(`Cancel of upload "${id}" requested; the agent stops it between parts`);
      return Promise.resolve(EXIT.ok);
    } finally {
      db.close();
    }
  },
};
