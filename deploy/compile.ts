/**
 * `deno task compile`: one binary per target with the permission flags the
 * device's config needs baked in (the same derivation as `tern permissions`)
 * and the served files embedded (`--include routes/site`).
 *
 * Usage:
 *   deno task compile [--config deploy/config] [--device-config /etc/tern]
 *                     [--target x86_64-unknown-linux-gnu|aarch64-unknown-linux-gnu]... [--out dist]
 *
 * `deno compile` downloads the runtime (denort) per target on first use. On a
 * machine without internet set DENORT_BIN to a local binary: the build then
 * checks the module graph, the embedded files and the baked-in flags, but the
 * output is NOT a runnable agent for that target (this script says so).
 * Outputs `dist/tern-<target>` and `dist/tern-<target>.flags` (the flags used).
 */

import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { derivePermissions, loadConfig, permissionFlags } from "../lib/config/mod.ts";

export const TARGETS = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"] as const;

/** The flags baked into the binary for a device config. */
export function bakedFlags(configDir: string, deviceConfigDir: string): string[] {
  const loaded = loadConfig({ dir: configDir, required: true, env: () => undefined });
  const needs = derivePermissions(loaded.config, {
    configDir: deviceConfigDir,
    stateDir: loaded.stateDir,
  });
  return permissionFlags(needs);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      config: { type: "string", default: "deploy/config" },
      "device-config": { type: "string", default: "/etc/tern" },
      target: { type: "string", multiple: true },
      out: { type: "string", default: "dist" },
    },
  });
  const targets = values.target?.length ? values.target : [...TARGETS];
  for (const t of targets) {
    if (!(TARGETS as readonly string[]).includes(t)) {
      console.error(`Unknown target "${t}" (targets: ${TARGETS.join(", ")})`);
      return 64;
    }
  }
  const flags = bakedFlags(values.config!, values["device-config"]!);
  const denort = Deno.env.get("DENORT_BIN");
  Deno.mkdirSync(values.out!, { recursive: true });
  console.log(`Permission flags baked in (from ${values.config}):\n  ${flags.join("\n  ")}`);
  if (denort) {
    console.log(
      `DENORT_BIN=${denort}: the runtime is not downloaded; this build checks the module graph, ` +
        `the embedded files and the baked-in flags only. The outputs are NOT runnable agents.`,
    );
  }
  for (const target of targets) {
    const output = resolve(values.out!, `tern-${target}`);
    const args = [
      "compile",
      "--quiet",
      "--no-check",
      "--target",
      target,
      "--output",
      output,
      "--include",
      "routes/site",
      ...flags,
      "main.ts",
      "run",
      "--config",
      values["device-config"]!,
    ];
    const t0 = performance.now();
    const r = await new Deno.Command(Deno.execPath(), {
      args,
      stdout: "inherit",
      stderr: "inherit",
    })
      .output();
    if (r.code !== 0) {
      console.error(
        `Compile for ${target} failed (exit ${r.code}).` +
          (denort ? "" : " Without internet, set DENORT_BIN to a local denort/deno binary."),
      );
      return 1;
    }
    Deno.writeTextFileSync(`${output}.flags`, flags.join("\n") + "\n");
    const size = (Deno.statSync(output).size / 1048576).toFixed(1);
    console.log(
      `Built ${output} (${size} MiB, ${((performance.now() - t0) / 1000).toFixed(1)} s)` +
        (denort ? " [graph check only]" : ""),
    );
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());
