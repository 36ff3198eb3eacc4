/**
 * An in-process MQTT broker (`aedes`) on loopback for the default test suite.
 * It records what it receives and when clients arrive, and can be stopped and
 * started again on the same port (a broker outage or restart).
 *
 * ```ts
 * await using broker = await startAedes();
 * // connect to broker.url ("mqtt://127.0.0.1:PORT")
 * await broker.stop(); await broker.start();   // same port
 * broker.received.filter((m) => m.topic === "a/b")
 * ```
 *
 * State (sessions, retained messages) is in memory and is lost on `stop()`,
 * like a broker restart without persistence.
 */

import { Aedes, type AedesOptions } from "aedes";
import net from "node:net";

/** One PUBLISH the broker received from a client. */
export interface ReceivedMessage {
  clientId: string;
  topic: string;
  payload: Uint8Array;
  qos: number;
  retain: boolean;
  /** Date.now() at arrival. */
  at: number;
}

/** Options of {@linkcode startAedes}: any aedes option, plus the port. */
export interface AedesHelperOptions extends AedesOptions {
  /** Port on 127.0.0.1; 0 picks a free one. @default 0 */
  port?: number;
}

export interface AedesBroker extends AsyncDisposable {
  /** The port (kept across restarts). */
  readonly port: number;
  /** "mqtt://127.0.0.1:PORT" */
  readonly url: string;
  /** The current aedes instance (replaced on `start()` after `stop()`). */
  readonly broker: Aedes;
  readonly running: boolean;
  /** PUBLISH packets from clients, across restarts. */
  readonly received: ReceivedMessage[];
  /** Date.now() of every accepted TCP connection, across restarts. */
  readonly tcpArrivals: number[];
  /** Date.now() and client id of every successful MQTT CONNECT. */
  readonly connects: { clientId: string; at: number }[];
  /** Close every client connection and the listener. */
  stop(): Promise<void>;
  /** Listen again on the same port with a fresh broker. */
  start(): Promise<void>;
}

/** Start aedes on 127.0.0.1. */
export async function startAedes(options: AedesHelperOptions = {}): Promise<AedesBroker> {
  const { port: wanted = 0, ...aedesOptions } = options;
  const received: ReceivedMessage[] = [];
  const tcpArrivals: number[] = [];
  const connects: { clientId: string; at: number }[] = [];
  let broker!: Aedes;
  let server: net.Server | undefined;
  let sockets = new Set<net.Socket>();
  let port = wanted;

  const start = async () => {
    if (server) return;
    broker = await Aedes.createBroker({ heartbeatInterval: 3_600_000, ...aedesOptions });
    broker.on("publish", (packet, client) => {
      if (!client) return;
      received.push({
        clientId: client.id,
        topic: packet.topic,
        payload: new Uint8Array(packet.payload as Buffer),
        qos: packet.qos,
        retain: packet.retain,
        at: Date.now(),
      });
    });
    broker.on("client", (client) => connects.push({ clientId: client.id, at: Date.now() }));
    const s = net.createServer((socket) => {
      tcpArrivals.push(Date.now());
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {});
      broker.handle(socket);
    });
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(port, "127.0.0.1", () => resolve());
    });
    port = (s.address() as net.AddressInfo).port;
    server = s;
  };

  const stop = async () => {
    const s = server;
    if (!s) return;
    server = undefined;
    const closing = new Promise<void>((resolve) => s.close(() => resolve()));
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    sockets = new Set();
    await closing;
  };

  await start();
  return {
    get port() {
      return port;
    },
    get url() {
      return `mqtt://127.0.0.1:${port}`;
    },
    get broker() {
      return broker;
    },
    get running() {
      return server !== undefined;
    },
    received,
    tcpArrivals,
    connects,
    stop,
    start,
    [Symbol.asyncDispose]: stop,
  };
}
