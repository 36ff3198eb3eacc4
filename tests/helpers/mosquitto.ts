/**
 * Debian's `mosquitto` broker as a child process on a free loopback port, with
 * a generated config: plain MQTT, or TLS with `require_certificate true`
 * (client certificates, like AWS IoT Core) from PEM files such as those of
 * `makeTlsFixtures()`. It can be stopped and started again on the same port.
 *
 * ```ts
 * if (!mosquittoAvailable()) console.warn(MOSQUITTO_MISSING);
 * await using broker = await startMosquitto({ tls: fixtures.paths });
 * // connect to broker.url ("mqtts://localhost:PORT")
 * ```
 *
 * Config written: `listener PORT 127.0.0.1`, `allow_anonymous true`,
 * `persistence false`, `max_queued_messages 1000000` (mosquitto's default of
 * 1000 drops QoS 1 messages for a slow subscriber), `set_tcp_nodelay true`, and with TLS `cafile`,
 * `certfile`, `keyfile`, `require_certificate true`,
 * `use_identity_as_username true`. Running as root, `user root` keeps the
 * broker able to read 0600 key files.
 */

import { join } from "node:path";
import { PEERS, PEERS_COMMAND } from "./peers.ts";
import { freePort } from "./process.ts";

/** Why a mosquitto benchmark is skipped when the binary is absent. */
export const MOSQUITTO_MISSING = `mosquitto not found (${PEERS_COMMAND} installs it)`;

/** Path of the mosquitto binary, or undefined when it is not installed. */
export function mosquittoPath(): string | undefined {
  return PEERS.mosquitto.path();
}

export function mosquittoAvailable(): boolean {
  return mosquittoPath() !== undefined;
}

/** Options of {@linkcode startMosquitto}. */
export interface MosquittoOptions {
  /** Port on 127.0.0.1; 0 picks a free one. @default 0 */
  port?: number;
  /** TLS with client certificates required. */
  tls?: { caCert: string; serverCert: string; serverKey: string };
  /** Extra config lines. */
  extra?: string[];
}

export interface Mosquitto extends AsyncDisposable {
  readonly port: number;
  /** mqtt://127.0.0.1:PORT, or mqtts://localhost:PORT with TLS. */
  readonly url: string;
  readonly running: boolean;
  /** The broker's log (stderr/stdout) so far. */
  log(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** Start again on the same port. */
  start(): Promise<void>;
}

/** Start mosquitto; throws with {@linkcode MOSQUITTO_MISSING} when it is not installed. */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const bin = mosquittoPath();
  if (!bin) throw new Error(MOSQUITTO_MISSING);
  const dir = await Deno.makeTempDir({ prefix: "tern-mosquitto-" });
  const port = options.port || freePort();
  const lines = [
    `listener ${port} 127.0.0.1`,
    "allow_anonymous true",
    "persistence false",
    "max_queued_messages 1000000",
    "max_inflight_messages 0",
    "set_tcp_nodelay true",
    "log_dest stderr",
    "log_type error",
    "log_type warning",
    "log_type notice",
  ];
  if (Deno.uid?.() === 0) lines.push("user root");
  if (options.tls) {
    lines.push(
      `cafile ${options.tls.caCert}`,
      `certfile ${options.tls.serverCert}`,
      `keyfile ${options.tls.serverKey}`,
      "require_certificate true",
      "use_identity_as_username true",
    );
  }
  lines.push(...(options.extra ?? []));
  const conf = join(dir, "mosquitto.conf");
  await Deno.writeTextFile(conf, lines.join("\n") + "\n");

  let child: Deno.ChildProcess | undefined;
  let output = "";
  let pumps: Promise<void>[] = [];

  const start = async () => {
    if (child) return;
    const c = new Deno.Command(bin, {
      args: ["-c", conf],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    })
      .spawn();
    child = c;
    const drain = async (s: ReadableStream<Uint8Array>) => {
      for await (const chunk of s.pipeThrough(new TextDecoderStream())) output += chunk;
    };
    pumps = [drain(c.stdout), drain(c.stderr)];
    const end = Date.now() + 5000;
    for (;;) {
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        conn.close();
        return;
      } catch {
        if (Date.now() > end) {
          await stop();
          throw new Error(`mosquitto did not listen on ${port} within 5 s:\n${output}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };

  const stop = async () => {
    const c = child;
    if (!c) return;
    child = undefined;
    try {
      c.kill("SIGTERM");
    } catch {
      // already gone
    }
    await c.status;
    await Promise.all(pumps);
  };

  await start();
  return {
    port,
    url: options.tls ? `mqtts://localhost:${port}` : `mqtt://127.0.0.1:${port}`,
    get running() {
      return child !== undefined;
    },
    log: () => output,
    stop,
    start,
    async [Symbol.asyncDispose]() {
      await stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
