/**
 * `tern update status [--json]` and `tern update check [JOB.json]`:
 * over-the-air updates (docs/update.md) as the agent's database holds them
 * (table `_update`) and the trial markers in the state directory, so it works
 * while the agent runs and while it is offline. `check` looks at the
 * device's readiness (release keys import, the binary's directory is
 * writable, free disk) and, given a job document, runs every check the
 * device would (target, version, download host, signature) without
 * downloading or installing anything. Exit codes: 0 ok, 1 a check failed,
 * 64 bad arguments, 78 configuration problem.
 */

import { dirname, resolve } from "../path.ts";
import { Database } from "../db/mod.ts";
import { later } from "../later.ts";
import { updateBinary } from "../config/mod.ts";
import { type CliIo, type Command, EXIT, type GlobalFlags, UsageError } from "./_command.ts";
import { loadFromFlags } from "./_setup.ts";

const USAGE = `Usage: tern update status [--json]
       tern update check [JOB.json]

  status [--json]   running version, the trial under way, the last jobs (phase, bytes, reason)
  check [JOB.json]  the device's readiness (keys, binary directory, free disk); with a job
                    document, every check the device would run on it, nothing installed

Updates are configured in "update" of tern.json5 (docs/update.md).

Exit codes: 0 ok, 1 a check failed, 64 bad arguments, 78 configuration problem.`;

export const updateCommand: Command = {
  name: "update",
  usage: USAGE,
  async run(args: string[], flags: GlobalFlags, io: CliIo): Promise<number> {
    const [sub, ...rest] = args;
    if (sub !== "status" && sub !== "check") {
      throw new UsageError(
        sub === undefined
          ? "Missing subcommand (status, check)"
          : `Unknown subcommand "${sub}" (subcommands: status, check)`,
      );
    }
    const loaded = loadFromFlags(flags);
    const { config } = loaded;
    const u = config.update;
    const m = await later<typeof import("../cloud/update/mod.ts")>("lib/cloud/update/mod.ts");
    const version = u.version ?? m.BUILT_VERSION;
    const target = u.target ?? Deno.build.target;
    const bin = updateBinary(u, loaded);
    if (sub === "check") return await _check(rest, { m, u, version, target, bin, io });
    const extra = rest.filter((a) => a !== "--json");
    if (extra.length) throw new UsageError(`Unexpected argument "${extra[0]}"`);
    const db = Database.open({
      path: resolve(loaded.stateDir, config.database.path),
      synchronous: config.database.synchronous,
      purgeInterval: 0,
    });
    try {
      const rows = new m.UpdateStore(db.sql).recent(10);
      const markers = await new m.Installer({ bin, stateDir: loaded.stateDir }).markers();
      const jobs = rows.map((r) => ({
        jobId: r.jobId,
        version: r.doc.version,
        phase: r.phase,
        bytes: r.bytes,
        size: r.doc.size,
        reason: r.reason,
        reportOwed: r.report?.status ?? null,
        updated: new Date(r.updated).toISOString(),
      }));
      const out = { enabled: u.enabled, version, target, binary: bin, trial: markers, jobs };
      if (rest.includes("--json")) io.out(JSON.stringify(out, null, 2));
      else {
        const lines = [`update: ${u.enabled ? "on" : "off"}, version ${version} (${target})`];
        if (markers.pending) {
          lines.push(`trial of ${markers.pending.version} under way (${markers.boots} start(s))`);
        }
        if (jobs.length === 0) lines.push("no job yet");
        for (const j of jobs) {
          lines.push(
            `${j.jobId.padEnd(24)} ${String(j.version).padEnd(10)} ${j.phase.padEnd(11)} ` +
              `${j.bytes}/${j.size} bytes${j.reason ? `: ${j.reason}` : ""}`,
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

async function _check(
  rest: string[],
  c: {
    m: typeof import("../cloud/update/mod.ts");
    u: import("../config/mod.ts").UpdateConfig;
    version: string;
    target: string;
    bin: string;
    io: CliIo;
  },
): Promise<number> {
  if (rest.length > 1) throw new UsageError(`Unexpected argument "${rest[1]}"`);
  const problems: string[] = [];
  if (!c.u.keys.length) problems.push("update.keys is empty: no release can be verified");
  for (const k of c.u.keys) {
    try {
      const der = Uint8Array.from(
        atob(k.key.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "")),
        (ch) => ch.charCodeAt(0),
      );
      await crypto.subtle.importKey(
        "spki",
        der,
        k.alg === "ed25519" ? { name: "Ed25519" } : { name: "ECDSA", namedCurve: "P-256" },
        false,
        ["verify"],
      );
    } catch {
      problems.push(`update.keys "${k.id}" is not a ${k.alg} SubjectPublicKeyInfo`);
    }
  }
  const dir = dirname(c.bin);
  try {
    const probe = resolve(dir, `.tern-update-probe-${crypto.randomUUID().slice(0, 8)}`);
    await Deno.writeTextFile(probe, "");
    await Deno.remove(probe);
  } catch (e) {
    problems.push(`The binary's directory "${dir}" is not writable: ${(e as Error).message}`);
  }
  const lines = [
    `version ${c.version} (${c.target}), binary ${c.bin}`,
    `free disk beside it: ${c.m.freeBytes(dir)} bytes`,
  ];
  if (rest[0] !== undefined) {
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(await Deno.readTextFile(rest[0]));
    } catch (e) {
      throw new UsageError(`Cannot read job document "${rest[0]}": ${(e as Error).message}`);
    }
    // Before the job exists, its URL may still be IoT Jobs' presigned-URL placeholder.
    const placeholder = /^\$\{aws:iot:s3-presigned-url:(.+)\}$/.exec(String(doc.url));
    if (placeholder) doc = { ...doc, url: placeholder[1] };
    try {
      const d = c.m.parseDocument(doc);
      await c.m.checkDocument(d, { current: c.version, target: c.target, config: c.u });
      lines.push(`job document: ${d.version} for ${d.target} would be installed`);
    } catch (e) {
      problems.push(`job document refused: ${(e as Error).message}`);
    }
  }
  c.io.out([...lines, ...problems.map((p) => `problem: ${p}`)].join("\n"));
  return problems.length ? EXIT.failure : EXIT.ok;
}
