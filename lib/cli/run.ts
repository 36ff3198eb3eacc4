/**
 * `tern run`: load the config, check permissions, start the agent and wait
 * for signals. SIGTERM/SIGINT stop gracefully within `agent.stopTimeout`
 * (a second signal exits at once with 1); SIGHUP reloads the config and
 * applies what can change live.
 */

import { Agent } from "../agent.ts";
import {
  checkPermissions,
  ConfigError,
  derivePermissions,
  type LoadedConfig,
} from "../config/mod.ts";
import { isPermanent, type ServiceFactory } from "../service.ts";
import type { CliApp, CliIo, Command, GlobalFlags } from "./_command.ts";
import { EXIT, UsageError } from "./_command.ts";
import { buildLogHub, loadFromFlags } from "./_setup.ts";
import { settleHeap, settleWhenIdle } from "./_settle.ts";
import { onExitRequest } from "../exit_request.ts";

/** Options of {@linkcode runAgent}. */
export interface RunOptions {
  /** The services to run: the app's list (`SERVICES` of services.ts at the root). */
  factories: ServiceFactory[];
  /**
   * Called once the agent started: device code binds its routes and handlers here with
   * `agent.onService(name, setup)` (a service may still be waiting for a dependency, and a
   * restart builds a new instance). An error it throws is logged; the agent keeps running.
   */
  onStarted?: (agent: Agent) => void;
  /** Skip the permission check (in-process tests that run with -A anyway). @default false */
  skipPermissionCheck?: boolean;
}

/** Start the agent for `loaded` and serve until a stop signal; returns the exit code. */
export async function runAgent(
  loaded: LoadedConfig,
  flags: GlobalFlags,
  io: CliIo,
  options: RunOptions,
): Promise<number> {
  if (!options.skipPermissionCheck) {
    const missing = checkPermissions(derivePermissions(loaded.config, loaded));
    if (missing.length) {
      const byKind = new Map<string, string[]>();
      for (const m of missing) {
        const [flag, value] = m.flag.split("=") as [string, string];
        byKind.set(flag, [...(byKind.get(flag) ?? []), value]);
      }
      io.err(
        `Missing Deno permissions for this configuration (run "tern permissions" for the full set):\n` +
          [...byKind].map(([flag, values]) => `  ${flag}=${values.join(",")}`).join("\n"),
      );
      return EXIT.config;
    }
  }
  const { hub, ring } = buildLogHub(loaded);
  const log = hub.logger("agent");
  let agent: Agent | undefined;
  const stop = Promise.withResolvers<string>();
  const listeners: [Deno.Signal, () => void][] = [];
  let stopping = false;
  const onStop = (sig: Deno.Signal) => () => {
    if (stopping) {
      log.warn("Second stop signal: exiting now", { signal: sig });
      Deno.exit(EXIT.failure);
    }
    stopping = true;
    stop.resolve(sig);
  };
  const onHup = () => {
    if (!agent) return log.warn("SIGHUP ignored: the agent is still starting");
    try {
      void agent.reload(loadFromFlags(flags)).then(() => settleHeap());
    } catch (e) {
      if (e instanceof ConfigError) {
        const problems = e.problems.map((p) => p.message);
        log.error("Reload refused: configuration has problems; keeping the running one", {
          problems,
        });
        agent.audit({
          actor: { type: "agent", id: agent.deviceId },
          action: "config.reload",
          outcome: "failure",
          details: { problems },
        });
      } else log.error("Reload failed", { error: e });
    }
  };
  // A service that needs the process to end with a code (an installed update: 75).
  let exitCode: number | undefined;
  const offExit = onExitRequest((code, reason) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    stop.resolve(`exit ${code}: ${reason}`);
  });
  for (const sig of ["SIGTERM", "SIGINT"] as const) listeners.push([sig, onStop(sig)]);
  listeners.push(["SIGHUP", onHup]);
  // Listen before starting, so a signal during a slow start is not fatal.
  for (const [sig, fn] of listeners) Deno.addSignalListener(sig, fn);
  const unlisten = () => {
    for (const [sig, fn] of listeners) Deno.removeSignalListener(sig, fn);
    offExit();
  };
  try {
    agent = await Agent.start({
      loaded,
      hub,
      ring,
      factories: options.factories,
    });
  } catch (e) {
    log.error("Agent failed to start", { error: e });
    unlisten();
    hub.close();
    if (isPermanent(e)) {
      io.err(`tern: ${e instanceof Error ? e.message : String(e)}`);
      return EXIT.config;
    }
    return EXIT.failure;
  }
  // Give back what only the start needed, and again after each burst of work.
  settleHeap();
  const settling = new AbortController();
  const settled = settleWhenIdle({ signal: settling.signal });
  try {
    options.onStarted?.(agent);
  } catch (e) {
    log.error("The device code's onStarted failed; the agent keeps running", { error: e });
  }

  const signal = await stop.promise;
  settling.abort();
  await settled;
  log.info("Stop signal received", { signal });
  const inTime = await agent.stop();
  unlisten();
  hub.close();
  return exitCode ?? (inTime ? EXIT.ok : EXIT.failure);
}

export const runCommand: Command = {
  name: "run",
  usage: `Usage: tern run [--config DIR] [--state DIR] [--profile NAME] [--log-level LEVEL]

Starts the agent with the configuration in DIR (default ./config; with no
config directory at all, the embedded default: web server on
http://127.0.0.1:8080 and database, every cloud feature off, state in ./state).

Signals: SIGTERM/SIGINT stop gracefully within agent.stopTimeout (a second one
exits at once); SIGHUP reloads the configuration and applies what can change live.`,
  async run(args: string[], flags: GlobalFlags, io: CliIo, app?: CliApp): Promise<number> {
    if (args.length) throw new UsageError(`Unexpected argument "${args[0]}"`);
    if (!app) throw new TypeError("tern run needs the app's services: cli(args, { services })");
    return await runAgent(loadFromFlags(flags), flags, io, { factories: app.services });
  },
};
