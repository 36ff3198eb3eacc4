/**
 * Least privilege: the exact Deno permission flags a config needs. The same
 * derivation feeds `tern permissions`, the flags baked into compiled binaries
 * and the check at start (`checkPermissions`), which names every missing flag.
 *
 * Always needed: read of the config dir, read/write of the state dir, the
 * CLI's env variables (TERN_*). Each section adds its own (listen ports,
 * broker host, cert files, AWS hosts…).
 */

import { laterReadPaths } from "../later.ts";
import type { PathBase, PermissionNeeds } from "./_types.ts";
import { awsPermissions } from "./_aws.ts";
import { httpPermissions } from "./_http.ts";
import { databasePermissions } from "./_database.ts";
import { mqttPermissions } from "./_mqtt.ts";
import { webPermissions } from "./_web.ts";
import { syncPermissions } from "./_sync.ts";
import { cloudPermissions } from "./_cloud.ts";
import { auditPermissions } from "./_audit.ts";
import { provisionPermissions } from "./_provision.ts";
import { updatePermissions } from "./_update.ts";
import { ENV_CLI, ENV_OVERRIDES } from "./loader.ts";
import type { Config } from "./schema.ts";

/** Each section's contribution; later sections add theirs here. */
const SECTIONS: ((c: Config, b: PathBase) => Partial<PermissionNeeds>)[] = [
  (c, b) => webPermissions(c.web, b),
  (c, b) => databasePermissions(c.database, b),
  (c, b) => mqttPermissions(c.mqtt, b),
  (c, b) => awsPermissions(c.aws, b),
  (c, b) => httpPermissions(c.http, b),
  (c, b) => syncPermissions(c.sync, c.aws.region, b),
  (c, b) => cloudPermissions(c.cloud, c.aws.region, b),
  (c) => auditPermissions(c.audit, c.aws.region),
  (c, b) => provisionPermissions(c.provision, b),
  (c, b) => updatePermissions(c.update, b),
];

/**
 * The permissions `config` needs, deduplicated and sorted. `code`: the directories the cloud
 * modules are read from (`laterReadPaths()`: beside the code, or the running bundle's; a bundle
 * of `deno task build` when `tern permissions --bundle` names one).
 */
export function derivePermissions(
  config: Config,
  base: PathBase,
  code: string[] = laterReadPaths(),
): Required<PermissionNeeds> {
  const needs: Required<PermissionNeeds> = {
    net: [],
    read: [base.configDir, base.stateDir],
    write: [base.stateDir],
    env: [...ENV_CLI, ...Object.keys(ENV_OVERRIDES)],
    sys: [],
    run: [],
  };
  for (const section of SECTIONS) {
    const part = section(config, base);
    for (const k of Object.keys(needs) as (keyof PermissionNeeds)[]) {
      needs[k].push(...(part[k] ?? []));
    }
  }
  // Cloud services load their modules when enabled; from source that is a read beside the code.
  if (config.agent.mode === "cloud") needs.read.push(...code);
  for (const k of Object.keys(needs) as (keyof PermissionNeeds)[]) {
    needs[k] = _compact([...new Set(needs[k])].sort(), k === "read" || k === "write");
  }
  return needs;
}

/** Drop paths already covered by a parent directory in the list. */
function _compact(list: string[], paths: boolean): string[] {
  if (!paths) return list;
  return list.filter((p) =>
    !list.some((q) => q !== p && (p.startsWith(q.endsWith("/") ? q : q + "/")))
  );
}

/** `--allow-net=…` style flags; never `-A`. Empty lists give no flag. */
export function permissionFlags(needs: PermissionNeeds): string[] {
  const flags: string[] = [];
  const add = (name: string, list: string[]) => {
    if (list.length) flags.push(`--allow-${name}=${list.join(",")}`);
  };
  add("read", needs.read);
  add("write", needs.write);
  add("net", needs.net);
  add("env", needs.env);
  add("sys", needs.sys);
  add("run", needs.run ?? []);
  return flags;
}

/** One permission the process lacks, with the flag that grants it. */
export interface MissingPermission {
  descriptor: Deno.PermissionDescriptor;
  flag: string;
}

/** Query every needed permission without prompting; returns what is missing. */
export function checkPermissions(needs: PermissionNeeds): MissingPermission[] {
  const missing: MissingPermission[] = [];
  const query = (descriptor: Deno.PermissionDescriptor, flag: string) => {
    if (Deno.permissions.querySync(descriptor).state !== "granted") {
      missing.push({ descriptor, flag });
    }
  };
  for (const path of needs.read) query({ name: "read", path }, `--allow-read=${path}`);
  for (const path of needs.write) query({ name: "write", path }, `--allow-write=${path}`);
  for (const host of needs.net) query({ name: "net", host }, `--allow-net=${host}`);
  for (const variable of needs.env) query({ name: "env", variable }, `--allow-env=${variable}`);
  for (const kind of needs.sys) {
    query(
      { name: "sys", kind: kind as Deno.SysPermissionDescriptor["kind"] },
      `--allow-sys=${kind}`,
    );
  }
  for (const command of needs.run ?? []) query({ name: "run", command }, `--allow-run=${command}`);
  return missing;
}
