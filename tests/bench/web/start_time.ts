/**
 * Start time of the agent as shipped: the start task's command with the
 * default config (local mode), from the spawn to the moment its "Agent
 * started" log line is read, with a state directory from an earlier start (a
 * device's usual boot: the database exists). One start first that is not
 * counted (it creates the state and warms Deno's module cache). Not pinned:
 * a device gives the agent every core.
 *
 * On aarch64 the same command runs under `qemu-aarch64-static` with the arm64
 * Deno that `deno task check:arm64` installs into `.ci/cache/arm64/`:
 * emulated, so its figure says how the start scales, not what a device takes.
 */

import { join } from "node:path";
import { freePort } from "../../../deploy/free_port.ts";
import { writeConfig } from "./configs.ts";
import { ROOT, spawnAgent } from "./start_task.ts";

/** The arm64 Deno of `deno task check:arm64`. */
export const ARM_DENO = join(ROOT, ".ci/cache/arm64/package/deno");

/** Why the aarch64 start cannot be measured here, or undefined when it can. */
export function armMissing(): string | undefined {
  try {
    new Deno.Command("qemu-aarch64-static", { args: ["--version"], stdout: "null" }).outputSync();
  } catch {
    return "qemu-aarch64-static is not installed (deno task check:arm64 installs it)";
  }
  try {
    Deno.statSync(ARM_DENO);
  } catch {
    return `no arm64 Deno at ${ARM_DENO} (deno task check:arm64 installs it)`;
  }
  return undefined;
}

/** Options of {@linkcode startTimes}. */
export interface StartOptions {
  tmp: string;
  /** Counted starts. @default 10 */
  runs?: number;
  /** Runs Deno. @default this Deno */
  runner?: string[];
  /** `Deno.build.target` the agent must report ("Agent starting"). */
  target?: string;
  /** Per start, ms. @default 60000 */
  timeoutMs?: number;
}

/** Milliseconds from spawn to "Agent started", one per counted start. */
export async function startTimes(o: StartOptions): Promise<number[]> {
  const dir = await Deno.makeTempDir({ dir: o.tmp, prefix: "start-" });
  const configDir = writeConfig(join(dir, "config"), "default");
  const stateDir = join(dir, "state");
  const out: number[] = [];
  try {
    for (let i = 0; i <= (o.runs ?? 10); i++) {
      await using agent = spawnAgent({
        configDir,
        stateDir,
        port: freePort(),
        ...(o.runner ? { runner: o.runner } : {}),
      });
      const { line } = await agent.until(/"Agent starting"/, o.timeoutMs ?? 60_000);
      if (o.target && JSON.parse(line).target !== o.target) {
        throw new Error(`Expected target ${o.target}: ${line}`);
      }
      const { at } = await agent.until(/"Agent started"/, o.timeoutMs ?? 60_000);
      if (i > 0) out.push(at - agent.spawned);
      const code = await agent.stop();
      if (code !== 0) throw new Error(`The agent exited with ${code}:\n${agent.log()}`);
    }
    return out;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
