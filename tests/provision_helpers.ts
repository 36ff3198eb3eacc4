/**
 * Shared set-up of the provisioning tests: test CA fixtures, mosquitto with
 * TLS and `require_certificate`, the provisioning service peer
 * (tests/helpers/provision_peer.ts), a claim certificate of the CA and a
 * device directory (config + state) with a serial number file; `agent()`
 * starts an in-process agent on it whose log records are kept in `logs`.
 *
 * ```ts
 * await using w = await provisionWorld();
 * await using a = await w.agent();
 * await w.connected(a);
 * ```
 */

import { join } from "node:path";
import { Agent } from "../lib/agent.ts";
import { configSchema } from "../lib/config/mod.ts";
import { LogHub } from "../lib/log/mod.ts";
import type { LogRecord } from "../lib/log/record.ts";
import { LIBRARY_SERVICES } from "../lib/services.ts";
import { makeTlsFixtures, type TlsFixtures } from "./helpers/tls.ts";
import { type Mosquitto, startMosquitto } from "./helpers/mosquitto.ts";
import {
  type ProvisionPeer,
  type ProvisionPeerOptions,
  startProvisionPeer,
} from "./helpers/provision_peer.ts";
import { until } from "./helpers/wait.ts";

export const SERIAL = "SN0042";
export const THING = `tern-${SERIAL}`;

export interface World extends AsyncDisposable {
  tls: TlsFixtures;
  broker: Mosquitto;
  peer: ProvisionPeer;
  /** The device's directory: config files and `state/`. */
  dir: string;
  stateDir: string;
  /** Config input (before defaults) for the device. */
  input(extra?: Record<string, unknown>): Record<string, unknown>;
  agent(extra?: Record<string, unknown>): Promise<TestAgent>;
  /** Resolve once the agent's mqtt service is connected. */
  connected(a: TestAgent, ms?: number): Promise<void>;
}

export interface TestAgent extends AsyncDisposable {
  agent: Agent;
  logs: LogRecord[];
  provision(): Record<string, unknown>;
  mqtt(): Record<string, unknown>;
}

export async function provisionWorld(
  peerOptions: Partial<ProvisionPeerOptions> = {},
): Promise<World> {
  const tls = await makeTlsFixtures(undefined, { clientCN: "provision-peer" });
  const broker = await startMosquitto({ tls: tls.paths });
  const peer = await startProvisionPeer({ broker: broker.url, tls, ...peerOptions });
  const dir = await Deno.makeTempDir({ prefix: "tern_provision_" });
  const stateDir = join(dir, "state");
  const claim = await peer.issue({ cn: "claim-batch-7" });
  await Deno.writeTextFile(join(dir, "claim.crt"), claim.certPem);
  await Deno.writeTextFile(join(dir, "claim.key"), claim.keyPem, { mode: 0o600 });
  await Deno.writeTextFile(join(dir, "serial"), SERIAL + "\0");
  const input = (extra: Record<string, unknown> = {}) => {
    const base: Record<string, Record<string, unknown>> = {
      agent: { mode: "cloud", state: stateDir, restart: { min: 50, max: 500 } },
      device: { id: "dev-42" },
      mqtt: {
        enabled: true,
        url: broker.url,
        ca: tls.paths.caCert,
        connectTimeout: 2_000,
        reconnect: { min: 50, max: 300, authMin: 100, authMax: 400 },
      },
      provision: {
        enabled: true,
        claim: { cert: "claim.crt", key: "claim.key" },
        template: "TernFleet",
        parameters: { SerialNumber: "${serial}", DeviceId: "${deviceId}" },
        facts: { serialFile: join(dir, "serial") },
        retry: { min: 100, max: 400 },
        requestTimeout: 2_000,
      },
    };
    for (const [k, v] of Object.entries(extra)) {
      base[k] = { ...(base[k] ?? {}), ...(v as Record<string, unknown>) };
    }
    return base;
  };
  const agent = async (extra: Record<string, unknown> = {}): Promise<TestAgent> => {
    const logs: LogRecord[] = [];
    const config = configSchema.parse(input(extra));
    const agent = await Agent.start({
      loaded: { config, configDir: dir, stateDir, files: [], secrets: [] },
      factories: LIBRARY_SERVICES,
      hub: new LogHub({ level: "debug", sinks: [{ write: (r) => void logs.push(r) }] }),
    });
    const details = (name: string) =>
      agent.states(true).find((s) => s.name === name)?.details ?? {};
    return {
      agent,
      logs,
      provision: () => details("provision"),
      mqtt: () => details("mqtt"),
      [Symbol.asyncDispose]: async () => void await agent.stop(),
    };
  };
  return {
    tls,
    broker,
    peer,
    dir,
    stateDir,
    input,
    agent,
    connected: (a, ms = 15_000) =>
      until(() => a.mqtt().connected === true, {
        ms,
        what: () => `mqtt connected (provision: ${JSON.stringify(a.provision())})`,
      }),
    [Symbol.asyncDispose]: async () => {
      await peer[Symbol.asyncDispose]();
      await broker[Symbol.asyncDispose]();
      await tls.cleanup();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Every file of the identity dir with its mode. */
export function identityFiles(stateDir: string): { name: string; mode: number }[] {
  const d = join(stateDir, "identity");
  return [...Deno.readDirSync(d)].map((e) => ({
    name: e.name,
    mode: Deno.statSync(join(d, e.name)).mode! & 0o777,
  })).sort((a, b) => a.name.localeCompare(b.name));
}

/** The identity in force (identity.json with the PEM files). */
export function identityOf(stateDir: string): {
  thing: string;
  certificateId: string;
  /** File names of the pair in force. */
  cert: string;
  key: string;
  certPem: string;
  keyPem: string;
  previousCertificateId?: string;
} {
  const d = join(stateDir, "identity");
  const id = JSON.parse(Deno.readTextFileSync(join(d, "identity.json")));
  return {
    ...id,
    certPem: Deno.readTextFileSync(join(d, id.cert)),
    keyPem: Deno.readTextFileSync(join(d, id.key)),
  };
}

/** Resolve once the broker's log matches `re` (its stderr is read asynchronously). */
export async function logged(w: World, re: RegExp): Promise<void> {
  await until(() => re.test(w.broker.log()), {
    what: () => `${re} in the broker log:\n${w.broker.log()}`,
  });
}
