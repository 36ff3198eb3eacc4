/**
 * Shared set-up of the shadow tests: mosquitto, moto and the shadow
 * responder (tests/helpers/shadow_peer.ts), and a "device" — an MqttClient
 * and the configured shadows on a SQLite file that survives a restart of
 * the device. Skipped with a message when mosquitto or moto is missing.
 *
 * ```ts
 * await using w = await shadowWorld();
 * await using dev = await w.device({ thermostat: {} });
 * dev.shadows.get("thermostat").update({ t: 20 });
 * ```
 */

import { DatabaseSync } from "node:sqlite";
import { basename, join } from "node:path";
import { MqttClient } from "../lib/mqtt/mod.ts";
import { Shadows } from "../lib/cloud/shadow/mod.ts";
import { nullLogger } from "../lib/log/mod.ts";
import { systemClock } from "../lib/clock.ts";
import { Agent } from "../lib/agent.ts";
import { configSchema } from "../lib/config/mod.ts";
import { LIBRARY_SERVICES } from "../lib/services.ts";
import { type Mosquitto, startMosquitto } from "./helpers/mosquitto.ts";
import { skipWithout } from "./helpers/peers.ts";
import { type Moto, startMoto } from "./helpers/moto.ts";
import { type ShadowPeer, type ShadowPeerOptions, startShadowPeer } from "./helpers/shadow_peer.ts";

export const THING = "pump-1";

let _moto: boolean | undefined;
/** Whether moto with its IoT data plane can be imported by python3. */
export function motoIotAvailable(): boolean {
  if (_moto === undefined) {
    try {
      const r = new Deno.Command("python3", {
        args: ["-c", "import moto.iotdata, flask"],
        stdout: "null",
        stderr: "null",
      }).outputSync();
      _moto = r.success;
    } catch {
      _moto = false;
    }
  }
  return _moto;
}

/**
 * The `ignore` of every shadow test file: true, with a SKIP line and a note
 * for tests/run.ts's summary (CI fails on it), when mosquitto or moto is missing.
 */
export function skipShadowTests(testUrl: string): boolean {
  if (skipWithout("mosquitto", testUrl)) return true;
  if (motoIotAvailable()) return false;
  const suite = basename(new URL(testUrl).pathname);
  console.warn(`SKIP ${suite}: moto is not installed (pip install 'moto[server]==5.2.1')`);
  const dir = Deno.env.get("TERN_TEST_SKIPS");
  if (dir) {
    try {
      Deno.writeTextFileSync(join(dir, `${suite}.moto`), "");
    } catch { /* the run is over */ }
  }
  return true;
}

type Entries = ConstructorParameters<typeof Shadows>[0]["entries"];
type EntryInput = Partial<Entries[string]>;

export interface Device extends AsyncDisposable {
  mqtt: MqttClient;
  shadows: Shadows;
  db: DatabaseSync;
  /** Stop the client and close the database (dispose does the same). */
  stop(): Promise<void>;
}

export interface World extends AsyncDisposable {
  broker: Mosquitto;
  moto: Moto;
  peer: ShadowPeer;
  dir: string;
  /** A device on `<dir>/tern.db` with these shadows (defaults: both ways, change with debounce 20 ms). */
  /** `connect: false` starts the shadows offline (call `mqtt.start()` later). */
  /** `requestTimeout`: ms before a request counts as unanswered (default 2000). */
  device(
    entries: Record<string, EntryInput>,
    extra?: { connect?: boolean; requestTimeout?: number },
  ): Promise<Device>;
}

export async function shadowWorld(peer: Partial<ShadowPeerOptions> = {}): Promise<World> {
  const dir = await Deno.makeTempDir({ prefix: "tern-shadow-" });
  const broker = await startMosquitto();
  const moto = await startMoto();
  const p = await startShadowPeer({ broker: broker.url, moto: moto.url, ...peer });
  await p.createThing(THING);
  return {
    broker,
    moto,
    peer: p,
    dir,
    async device(input, extra = {}) {
      const db = new DatabaseSync(join(dir, "tern.db"));
      db.exec("PRAGMA journal_mode = WAL");
      const mqtt = new MqttClient({
        url: broker.url,
        clientId: `dev-${crypto.randomUUID().slice(0, 8)}`,
        vars: { thing: THING, deviceId: THING },
        reconnect: { min: 20, max: 200 },
        db,
      });
      const entries: Entries = {};
      for (const [k, e] of Object.entries(input)) {
        entries[k] = {
          classic: false,
          direction: "both",
          sync: { mode: "change", debounce: 20 },
          recreate: false,
          ...e,
        };
      }
      const shadows = new Shadows({
        mqtt,
        db,
        thing: THING,
        entries,
        requestTimeout: extra.requestTimeout ?? 2000,
        backoff: { min: 50, max: 500 },
        clock: systemClock,
        log: nullLogger,
      });
      if (extra.connect !== false) mqtt.start();
      await shadows.start();
      let stopped = false;
      const stop = async () => {
        if (stopped) return;
        stopped = true;
        await shadows[Symbol.asyncDispose]();
        await mqtt.close();
        db.close();
      };
      return { mqtt, shadows, db, stop, [Symbol.asyncDispose]: stop };
    },
    async [Symbol.asyncDispose]() {
      await p[Symbol.asyncDispose]();
      await broker[Symbol.asyncDispose]();
      await moto[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** The data model the bound shadow of {@linkcode boundShadowAgent} reads and writes. */
export const THERMOSTAT_MODELS = {
  Thermostat: {
    pk: "T#${id}",
    fields: {
      id: { type: "string", required: true },
      setpoint: { type: "number" },
      temperature: { type: "number" },
      pin: { type: "string", hidden: true },
    },
  },
};

/**
 * A real agent (database, mqtt, shadows) on `w`'s broker and directory with one shadow,
 * "thermostat", bound to the item `{ id: "main" }` of model "Thermostat"
 * ({@linkcode THERMOSTAT_MODELS}), sent on change with a 10 ms debounce. Stop it with
 * `agent.stop()`.
 */
export function boundShadowAgent(w: World, models = THERMOSTAT_MODELS): Promise<Agent> {
  const config = configSchema.parse({
    agent: { mode: "cloud" },
    device: { id: "dev-1", thing: THING },
    schema: { models },
    mqtt: { enabled: true, url: w.broker.url, reconnect: { min: 20, max: 200 } },
    cloud: {
      shadow: {
        enabled: true,
        shadows: {
          thermostat: {
            model: { name: "Thermostat", key: { id: "main" } },
            sync: { mode: "change", debounce: 10 },
          },
        },
      },
    },
  });
  return Agent.start({
    loaded: { config, configDir: w.dir, stateDir: w.dir, files: [], secrets: [] },
    factories: LIBRARY_SERVICES,
  });
}
