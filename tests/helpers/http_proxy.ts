/**
 * A forward HTTP proxy for tests of the agent's `http.proxy` setting, on
 * loopback (port from the OS). It takes absolute-form requests
 * (`PUT http://s3.test:1234/bucket/key`, http targets) and CONNECT tunnels
 * (https targets), and reaches the host names in `hosts` at 127.0.0.1 — so a
 * test endpoint named `s3.test` is reachable through the proxy only, and a
 * request that skipped the proxy fails. It records every request and tunnel
 * and, for bandwidth tests, when each body byte arrived from the client.
 *
 * `startTlsFront(target, tls)`: an HTTPS server (the fixture's certificate)
 * that forwards each request to `target` with its Host header kept (SigV4
 * signs it): the https endpoint a CONNECT tunnel leads to.
 */

import http from "node:http";
import https from "node:https";
import net from "node:net";
import type { TlsFixtures } from "./tls.ts";

export interface TestProxy extends AsyncDisposable {
  url: string;
  /** Absolute-form requests: "METHOD host/path?query". */
  requests: string[];
  /** CONNECT targets ("host:port"). */
  connects: string[];
  /** Bytes received from clients: [ms since the proxy started, bytes] per read. */
  received: [number, number][];
}

function _forward(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  port: number,
  onData?: (n: number) => void,
) {
  const headers = { ...req.headers };
  delete headers["proxy-authorization"];
  delete headers["proxy-connection"];
  const path = req.url!.startsWith("http")
    ? new URL(req.url!).pathname + new URL(req.url!).search
    : req.url!;
  const up = http.request(
    { hostname: "127.0.0.1", port, method: req.method, path, headers },
    (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    },
  );
  up.on("error", () => {
    res.writeHead(502);
    res.end();
  });
  req.on("data", (c: Uint8Array) => {
    onData?.(c.length);
    up.write(c);
  });
  req.on("end", () => up.end());
}

/** Start the proxy; `hosts`: names it resolves to 127.0.0.1. */
export async function startHttpProxy(hosts: string[]): Promise<TestProxy> {
  const t0 = performance.now();
  const out: TestProxy = {
    url: "",
    requests: [],
    connects: [],
    received: [],
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const sockets = new Set<net.Socket>();
  const known = (host: string) => hosts.includes(host.replace(/:\d+$/, ""));
  const server = http.createServer((req, res) => {
    const host = req.headers.host ?? "";
    out.requests.push(`${req.method} ${host}${req.url!.replace(/^http:\/\/[^/]+/, "")}`);
    if (!known(host)) {
      res.writeHead(502);
      return void res.end();
    }
    const port = Number(/:(\d+)$/.exec(host)?.[1] ?? 80);
    _forward(req, res, port, (n) => out.received.push([performance.now() - t0, n]));
  });
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("connect", (req: http.IncomingMessage, sock: net.Socket, head: Uint8Array) => {
    const where = req.url ?? "";
    out.connects.push(where);
    sockets.add(sock);
    if (!known(where)) {
      sock.end("HTTP/1.1 502 Bad Gateway\r\n\r\n");
      return;
    }
    const up = net.connect(Number(where.split(":").at(-1)), "127.0.0.1", () => {
      sock.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length) up.write(head);
      sock.on("data", (c: Uint8Array) => {
        out.received.push([performance.now() - t0, c.length]);
        up.write(c);
      });
      up.pipe(sock);
    });
    up.on("error", () => sock.destroy());
    sock.on("error", () => up.destroy());
    sock.on("close", () => up.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  out.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return out;
}

/** An HTTPS front for `target` (an http://127.0.0.1:PORT base), Host headers kept. */
export async function startTlsFront(
  target: string,
  tls: TlsFixtures,
): Promise<{ port: number } & AsyncDisposable> {
  const port = Number(new URL(target).port);
  const server = https.createServer(
    { cert: tls.serverCert, key: tls.serverKey },
    (req, res) => _forward(req, res, port),
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections?.();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
