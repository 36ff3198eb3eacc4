/**
 * `tern provision`: the device's identity (docs/provisioning.md).
 *
 * - `tern provision status [--json]`: the identity in force (thing,
 *   certificate id, expiry, next rotation), a flow under way and the last
 *   result, from the state dir and the agent's database (works while the
 *   agent runs and while it is stopped).
 * - `tern provision --cert FILE --key FILE [--thing NAME]`: install a
 *   certificate and key placed by the factory instead of provisioning by
 *   claim; checked first (PEM, current, the key is the certificate's), bad
 *   input changes nothing. The agent uses it from its next start.
 *
 * Exit codes: 0 ok, 1 bad files, 64 bad arguments, 78 configuration problem.
 */

import { join, resolve } from "../path.ts";
import { later } from "../later.ts";
import { ProvisionStore } from "../db/provision_store.ts";
import { type CliIo, type Command, EXIT, type GlobalFlags, UsageError } from "./_command.ts";
import { loadFromFlags } from "./_setup.ts";
import { cliActor, cliAudit } from "./audit.ts";
import { openFromFlags } from "./_open_db.ts";

const USAGE = `Usage: tern provision status [--json]
       tern provision --cert FILE --key FILE [--thing NAME]

  status [--json]            the identity in force, expiry, next rotation, a flow under way
  --cert FILE --key FILE     install a certificate and key placed by the factory (PEM)
  --thing NAME               its thing name (default: device.thing, else the device id)

Provisioning by claim and rotation are configured in "provision" of tern.json5.

Exit codes: 0 ok, 1 bad files, 64 bad arguments, 78 configuration problem.`;

export const provisionCommand: Command = {
  name: "provision",
  usage: USAGE,
  async run(args: string[], flags: GlobalFlags, io: CliIo): Promise<number> {
    const opts = _parse(args);
    const loaded = loadFromFlags(flags);
    const p = loaded.config.provision;
    const dir = join(loaded.stateDir, p.dir);
    const mod = await later<typeof import("../cloud/provision/mod.ts")>(
      "lib/cloud/provision/mod.ts",
    );
    if (opts.cert) {
      const read = (f: string) => {
        try {
          return Deno.readTextFileSync(resolve(f));
        } catch (e) {
          throw new UsageError(`Cannot read "${f}": ${(e as Error).message}`);
        }
      };
      const certPem = read(opts.cert);
      const keyPem = read(opts.key!);
      const db = openFromFlags(flags);
      try {
        const { deviceId } = await import("../state.ts");
        const thing = opts.thing ?? loaded.config.device.thing ??
          deviceId(loaded.stateDir, loaded.config.device.id);
        let id;
        try {
          id = await mod.installIdentity({ dir, certPem, keyPem, thing, now: Date.now() });
        } catch (e) {
          io.err(`Not installed: ${(e as Error).message}`);
          return EXIT.failure;
        }
        const store = new ProvisionStore(db.sql);
        store.clearFlow();
        store.saveResult({
          purpose: "install",
          outcome: "success",
          at: Date.now(),
          certificateId: id.certificateId,
        });
        cliAudit(loaded, db)?.record({
          actor: cliActor(),
          source: "cli",
          action: "provision.install",
          target: `thing:${id.thing}`,
          details: { certificateId: id.certificateId },
        });
        io.out(`Installed the identity of thing "${id.thing}" (certificate ${id.certificateId})`);
        return EXIT.ok;
      } finally {
        db.close();
      }
    }
    const db = openFromFlags(flags);
    try {
      const store = new ProvisionStore(db.sql);
      let current;
      try {
        current = new mod.IdentityStore(dir).current();
      } catch (e) {
        io.err((e as Error).message);
        return EXIT.failure;
      }
      const info = current ? mod.certInfo(current.certPem) : undefined;
      const flow = store.flow();
      const out = {
        enabled: p.enabled,
        identity: current && info
          ? {
            thing: current.thing,
            certificateId: current.certificateId,
            notBefore: new Date(info.notBefore).toISOString(),
            notAfter: new Date(info.notAfter).toISOString(),
            nextRotation: p.rotation.enabled
              ? new Date(info.notBefore + p.rotation.at * (info.notAfter - info.notBefore))
                .toISOString()
              : null,
            installedAt: new Date(current.installedAt).toISOString(),
          }
          : null,
        flow: flow ? { purpose: flow.purpose, step: flow.step } : null,
        lastResult: store.result() ?? null,
      };
      if (opts.json) io.out(JSON.stringify(out, null, 2));
      else {
        const lines = [`provision: ${p.enabled ? "on" : "off"}`];
        if (out.identity) {
          const i = out.identity;
          lines.push(
            `thing ${i.thing}, certificate ${i.certificateId.slice(0, 16)}…`,
            `valid until ${i.notAfter}, next rotation ${i.nextRotation ?? "off"}`,
          );
        } else lines.push("no identity yet");
        if (out.flow) lines.push(`under way: ${out.flow.purpose} at step ${out.flow.step}`);
        const r = out.lastResult;
        if (r) {
          lines.push(
            `last: ${r.purpose} ${r.outcome} at ${new Date(r.at).toISOString()}` +
              (r.error
                ? ` (${r.error.errorCode ?? ""} ${
                  r.error.statusCode ?? ""
                }: ${r.error.errorMessage})`
                : ""),
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

function _parse(args: string[]): { json: boolean; cert?: string; key?: string; thing?: string } {
  const out: { json: boolean; cert?: string; key?: string; thing?: string } = { json: false };
  const rest = [...args];
  if (rest[0] === "status") rest.shift();
  while (rest.length) {
    const a = rest.shift()!;
    if (a === "--json") out.json = true;
    else if (a === "--cert" || a === "--key" || a === "--thing") {
      const v = rest.shift();
      if (!v) throw new UsageError(`${a} needs a value`);
      out[a.slice(2) as "cert" | "key" | "thing"] = v;
    } else throw new UsageError(`Unexpected argument "${a}"`);
  }
  if ((out.cert === undefined) !== (out.key === undefined)) {
    throw new UsageError("--cert and --key go together");
  }
  if (out.thing !== undefined && !out.cert) {
    throw new UsageError("--thing goes with --cert and --key");
  }
  return out;
}
