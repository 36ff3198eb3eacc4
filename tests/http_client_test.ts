/**
 * The HTTP client against real local servers (node:http and node:https on
 * 127.0.0.1): JSON round trips, retries with Retry-After and backoff on fake
 * time, timeouts, size caps, streaming both ways, mutual TLS, proxies, and
 * error messages that name the URL without its secrets.
 */

import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { FakeClock } from "../lib/clock.ts";
import { HttpClient, HttpError } from "../lib/http/mod.ts";
import { makeTlsFixtures } from "./helpers/tls.ts";

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

interface TestServer extends AsyncDisposable {
  url: string;
  port: number;
  /** Requests received so far. */
  readonly count: number;
}

async function serve(handler: Handler): Promise<TestServer> {
  let count = 0;
  const server = createServer((req, res) => handler(req, res, ++count));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get count() {
      return count;
    },
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

Deno.test("getJson() and postJson() round-trip JSON with a local server", async () => {
  await using srv = await serve(async (req, res) => {
    const body = await readAll(req);
    res.setHeader("content-type", "application/json");
    res.end(
      JSON.stringify({ method: req.method, got: body.length ? JSON.parse(`${body}`) : null }),
    );
  });
  await using http = new HttpClient({ baseUrl: srv.url });
  assert.deepEqual(await http.getJson("/a"), { method: "GET", got: null });
  assert.deepEqual(await http.postJson("/b", { n: 1 }), { method: "POST", got: { n: 1 } });
});

Deno.test("a 503 with Retry-After is retried after exactly that wait on the clock", async () => {
  await using srv = await serve((_req, res, n) => {
    if (n === 1) {
      res.writeHead(503, { "retry-after": "2" }).end("busy");
    } else res.end("ok");
  });
  const clock = new FakeClock();
  await using http = new HttpClient({ clock });
  const p = http.get(`${srv.url}/x`);
  await clock.waitForSleepers(1);
  await clock.advance(1999);
  assert.equal(srv.count, 1);
  await clock.advance(1);
  assert.equal(await p, "ok");
  assert.equal(srv.count, 2);
});

Deno.test("dropped connections are retried with full-jitter backoff, then succeed", async () => {
  await using srv = await serve((req, res, n) => {
    if (n <= 2) req.socket.destroy();
    else res.end("third time");
  });
  const clock = new FakeClock();
  const start = clock.now();
  await using http = new HttpClient({ clock, random: () => 0.5, retryMinMs: 1000, retries: 3 });
  const p = http.get(`${srv.url}/x`);
  await clock.waitForSleepers(1);
  await clock.advance(500); // attempt 0: 0.5 * 1000
  await clock.waitForSleepers(1);
  await clock.advance(1000); // attempt 1: 0.5 * 2000
  assert.equal(await p, "third time");
  assert.equal(srv.count, 3);
  assert.equal(clock.now() - start, 1500);
});

Deno.test("a POST is not retried; the error names status, body and the URL without secrets", async () => {
  await using srv = await serve((_req, res) => res.writeHead(503).end('{"error":"busy"}'));
  await using http = new HttpClient({ clock: new FakeClock() });
  const err = await http.post(`${srv.url}/put?token=s3cr3t&x=1`, "data").catch((e) => e);
  assert.ok(err instanceof HttpError);
  assert.equal(err.code, "HTTP_STATUS");
  assert.equal(err.status, 503);
  assert.equal(srv.count, 1);
  assert.match(err.message, /^POST http:\/\/127\.0\.0\.1:\d+\/put\?token=\[redacted\]&x=1 failed/);
  assert.match(err.message, /503 "Service Unavailable": \{"error":"busy"\}/);
  assert.doesNotMatch(err.message, /s3cr3t/);
});

Deno.test("no response headers within headersTimeoutMs fails with HTTP_TIMEOUT", async () => {
  await using srv = await serve(() => {/* never answers */});
  await using http = new HttpClient({ headersTimeoutMs: 150, retries: 0 });
  const t0 = Date.now();
  const err = await http.get(`${srv.url}/slow`).catch((e) => e);
  assert.equal(err.code, "HTTP_TIMEOUT");
  assert.match(err.message, /no response headers within 150 ms/);
  assert.ok(Date.now() - t0 < 5000);
});

Deno.test("the total timeout also bounds a body that stalls mid-stream", async () => {
  await using srv = await serve((_req, res) => {
    res.writeHead(200);
    res.write("partial");
  });
  await using http = new HttpClient({ timeoutMs: 300 });
  const res = await http.fetch(`${srv.url}/stall`);
  const err = await res.text().catch((e) => e);
  assert.ok(err instanceof HttpError, String(err));
  assert.equal(err.code, "HTTP_TIMEOUT");
  assert.match(err.message, /timed out after 300 ms reading the body/);
});

Deno.test("responses over the size cap fail, declared or streamed", async () => {
  await using srv = await serve((req, res) => {
    if (req.url === "/declared") res.end("x".repeat(2000));
    else {
      res.writeHead(200); // chunked: no content-length
      for (let i = 0; i < 10; i++) res.write("y".repeat(500));
      res.end();
    }
  });
  await using http = new HttpClient({ baseUrl: srv.url, maxBufferedBytes: 1000 });
  const a = await http.get("/declared").catch((e) => e);
  assert.equal(a.code, "HTTP_TOO_LARGE");
  const b = await http.get("/chunked").catch((e) => e);
  assert.equal(b.code, "HTTP_TOO_LARGE");
  assert.equal(await http.get("/declared", { maxResponseBytes: 4000 }), "x".repeat(2000));
});

Deno.test("fetch() streams a request body up and a response body down", async () => {
  const size = 4 * 1024 * 1024;
  await using srv = await serve(async (req, res) => {
    if (req.method === "POST") {
      res.end(String((await readAll(req)).length));
      return;
    }
    res.writeHead(200);
    let sent = 0;
    const chunk = Buffer.alloc(64 * 1024, 7);
    const pump = () => {
      while (sent < size) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once("drain", pump);
      }
      res.end();
    };
    pump();
  });
  await using http = new HttpClient({ baseUrl: srv.url });
  let produced = 0;
  const up = new ReadableStream<Uint8Array>({
    pull(c) {
      if (produced >= size) return c.close();
      produced += 65536;
      c.enqueue(new Uint8Array(65536));
    },
  });
  assert.equal(await http.post("/up", up), String(size));
  const res = await http.fetch("/down");
  let got = 0;
  for await (const chunk of res.body!) got += chunk.byteLength;
  assert.equal(got, size);
});

Deno.test("a caller's abort signal cancels the request with HTTP_ABORTED", async () => {
  await using srv = await serve(() => {/* never answers */});
  await using http = new HttpClient();
  const ctl = new AbortController();
  const p = http.get(`${srv.url}/x`, { signal: ctl.signal });
  setTimeout(() => ctl.abort(), 50);
  const err = await p.catch((e) => e);
  assert.equal(err.code, "HTTP_ABORTED");
});

Deno.test("mutual TLS: the client certificate is presented; without it the handshake fails", async () => {
  await using tls = await makeTlsFixtures();
  const server = createHttpsServer({
    cert: tls.serverCert,
    key: tls.serverKey,
    ca: tls.caCert,
    requestCert: true,
    rejectUnauthorized: true,
  }, (req, res) => res.end(`cn=${(req.socket as TLSSocket).getPeerCertificate().subject?.CN}`));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  try {
    await using mtls = new HttpClient({
      tls: { caCerts: [tls.caCert], cert: tls.clientCert, key: tls.clientKey },
    });
    assert.equal(await mtls.get(url), "cn=tern-device");
    await using anon = new HttpClient({ tls: { caCerts: [tls.caCert] }, retries: 0 });
    const err = await anon.get(url).catch((e) => e);
    assert.equal(err.code, "HTTP_NETWORK");
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

Deno.test("requests go through the configured or environment proxy, except NO_PROXY hosts", async () => {
  await using proxy = await serve((req, res) => res.end(`via proxy: ${req.method} ${req.url}`));
  const target = "http://device-api.tern.invalid/v1/ping?q=1";
  await using explicit = new HttpClient({ proxy: proxy.url });
  assert.equal(await explicit.get(target), `via proxy: GET ${target}`);

  const env: Record<string, string> = { http_proxy: proxy.url, NO_PROXY: ".other.invalid" };
  await using fromEnv = new HttpClient({ env: (n) => env[n] });
  assert.equal(await fromEnv.get(target), `via proxy: GET ${target}`);
  env.NO_PROXY = "tern.invalid";
  await using direct = new HttpClient({ env: (n) => env[n], retries: 0 });
  const err = await direct.get(target).catch((e) => e);
  assert.equal(err.code, "HTTP_NETWORK"); // .invalid does not resolve: it went direct
  assert.equal(proxy.count, 2);
});
