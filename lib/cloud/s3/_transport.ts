/**
 * The one transport of every S3 request (small and large, signed and
 * presigned): `node:http(s)` with the settings of the agent's HTTP client
 * (`lib/http`: the `http` config section) — its proxy (`http.proxy`, or
 * HTTPS_PROXY / HTTP_PROXY / NO_PROXY, loopback direct) and its extra CA
 * and client certificate.
 *
 * Why not `fetch`: measured on Deno 2.9.6, 128 PUTs of an 8 MiB buffer
 * through `fetch` raise the peak RSS by 112 MB (fetch copies each
 * BufferSource body and the copies live until V8 collects them), against
 * +17 MB through `node:http` writing the same reused buffer; and `fetch`
 * sends a stream body chunked (it drops a Content-Length), which S3
 * refuses. Writing the body here in chunks is also what lets the bandwidth
 * cap pace bytes within a part (`pace` before each chunk).
 *
 * Proxies: an http:// URL goes to the proxy in absolute form
 * (`PUT http://host/key`); an https:// URL (or any URL through an https://
 * proxy) through a CONNECT tunnel, with TLS to S3 inside it. User and
 * password in the proxy URL become `Proxy-Authorization: Basic`.
 *
 * Units: bytes, ms.
 */

import { Buffer } from "node:buffer";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";

/** Where the settings come from: `lib/http`'s HttpClient has both. */
export interface TransportSettings {
  /** The proxy URL for a request URL, or undefined for a direct connection. */
  proxyFor(url: URL): string | undefined;
  /** Extra CAs (PEM) and a client certificate for mutual TLS. */
  tls?: { caCerts?: string[]; cert?: string; key?: string } | undefined;
}

/** One request. */
export interface TransportRequest {
  url: string;
  method: string;
  headers: Headers;
  body?: Uint8Array;
  /** No byte of the request or answer for this long: the request fails ("Timeout"). */
  timeoutMs: number;
  /** The bandwidth cap: the body is written in chunks of `chunk` bytes, each after `take`. */
  pace?: BodyPacer;
  signal?: AbortSignal;
}

/** What paces a body (`_pacer.ts`). */
export interface BodyPacer {
  /** Bytes per chunk. */
  readonly chunk: number;
  take(bytes: number, signal?: AbortSignal): Promise<void>;
}

/** A network-level failure: no (complete) answer arrived. */
export class TransportError extends Error {
  override name = "TransportError";
  readonly code: "NetworkError" | "Timeout";
  constructor(code: "NetworkError" | "Timeout", message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Proxy-Authorization of a proxy URL with credentials. */
function _proxyAuth(proxy: URL): Record<string, string> {
  if (!proxy.username) return {};
  const cred = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { "proxy-authorization": `Basic ${Buffer.from(cred).toString("base64")}` };
}

function _port(u: URL): number {
  return Number(u.port || (u.protocol === "https:" ? 443 : 80));
}

export class Transport {
  readonly #settings: TransportSettings;
  readonly #http = new http.Agent({ keepAlive: true });
  readonly #https: https.Agent;
  /** Requests sent through a proxy (status and tests). */
  proxied = 0;

  constructor(settings: TransportSettings) {
    this.#settings = settings;
    const t = settings.tls;
    this.#https = new https.Agent({
      keepAlive: true,
      ...(t?.caCerts?.length ? { ca: t.caCerts } : {}),
      ...(t?.cert && t.key ? { cert: t.cert, key: t.key } : {}),
    });
  }

  #tlsOptions(servername: string): tls.ConnectionOptions {
    const t = this.#settings.tls;
    return {
      servername,
      ...(t?.caCerts?.length ? { ca: t.caCerts } : {}),
      ...(t?.cert && t.key ? { cert: t.cert, key: t.key } : {}),
    };
  }

  /** Send one request; resolves with the whole (small) answer. Rejects with TransportError. */
  async send(r: TransportRequest): Promise<{ status: number; headers: Headers; text: string }> {
    const url = new URL(r.url);
    const p = this.#settings.proxyFor(url);
    const proxy = p ? new URL(p) : undefined;
    const h: Record<string, string> = {};
    r.headers.forEach((v, k) => h[k] = v);
    h["content-length"] = String(r.body?.length ?? 0);
    h["host"] = url.host;
    const path = url.pathname + url.search;
    let options: http.RequestOptions;
    let mod: typeof http | typeof https = url.protocol === "https:" ? https : http;
    if (!proxy) {
      options = {
        hostname: url.hostname,
        port: _port(url),
        path,
        agent: url.protocol === "https:" ? this.#https : this.#http,
        ...(url.protocol === "https:" ? this.#tlsOptions(url.hostname) : {}),
      };
    } else if (url.protocol === "http:" && proxy.protocol === "http:") {
      this.proxied++;
      mod = http;
      options = {
        hostname: proxy.hostname,
        port: _port(proxy),
        path: url.href,
        agent: this.#http,
        headers: _proxyAuth(proxy),
      };
    } else {
      this.proxied++;
      const socket = await this.#tunnel(proxy, url, r.timeoutMs, r.signal);
      options = {
        hostname: url.hostname,
        port: _port(url),
        path,
        createConnection: () =>
          url.protocol === "https:"
            ? tls.connect({ socket, ...this.#tlsOptions(url.hostname) })
            : socket,
      } as http.RequestOptions;
    }
    options.method = r.method;
    options.headers = { ...(options.headers as Record<string, string> ?? {}), ...h };
    options.timeout = r.timeoutMs;
    return await new Promise((resolve, reject) => {
      let settled = false;
      const fail = (e: unknown) => {
        if (settled) return;
        settled = true;
        r.signal?.removeEventListener("abort", onAbort);
        reject(
          e instanceof TransportError || r.signal?.aborted ? e : new TransportError(
            "NetworkError",
            (e as Error).message,
            { cause: e },
          ),
        );
      };
      const req = mod.request(options, (res) => {
        const chunks: Uint8Array[] = [];
        res.on("data", (c: Uint8Array) => chunks.push(c));
        res.on("error", fail);
        res.on("end", () => {
          if (settled) return;
          settled = true;
          r.signal?.removeEventListener("abort", onAbort);
          const out = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (typeof v === "string") out.set(k, v);
            else if (Array.isArray(v)) out.set(k, v.join(", "));
          }
          resolve({
            status: res.statusCode ?? 0,
            headers: out,
            text: new TextDecoder().decode(Buffer.concat(chunks)),
          });
        });
      });
      const onAbort = () => {
        req.destroy();
        fail(r.signal!.reason);
      };
      req.on(
        "timeout",
        () => req.destroy(new TransportError("Timeout", `No answer within ${r.timeoutMs} ms`)),
      );
      // Listen first: destroying a request without an error listener throws (uncaught).
      req.on("error", fail);
      if (r.signal?.aborted) return onAbort();
      r.signal?.addEventListener("abort", onAbort, { once: true });
      this.#write(req, r).catch((e) => {
        req.destroy();
        fail(e);
      });
    });
  }

  /** Write the body: whole, or in paced chunks. */
  async #write(req: http.ClientRequest, r: TransportRequest): Promise<void> {
    const body = r.body;
    if (!body?.length) return void req.end();
    if (!r.pace) return void req.end(body);
    const size = r.pace.chunk;
    for (let o = 0; o < body.length && !req.destroyed; o += size) {
      const part = body.subarray(o, Math.min(o + size, body.length));
      await r.pace.take(part.length, r.signal);
      if (req.destroyed) return;
      if (!req.write(part)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            req.off("drain", done);
            req.off("close", done);
            resolve();
          };
          req.on("drain", done);
          req.on("close", done);
        });
      }
    }
    if (!req.destroyed) req.end();
  }

  /** A CONNECT tunnel through `proxy` to `target`'s host and port. */
  async #tunnel(
    proxy: URL,
    target: URL,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<net.Socket> {
    const port = _port(proxy);
    const sock: net.Socket = proxy.protocol === "https:"
      ? tls.connect({ host: proxy.hostname, port, ...this.#tlsOptions(proxy.hostname) })
      : net.connect(port, proxy.hostname);
    const where = `${target.hostname}:${_port(target)}`;
    try {
      return await new Promise<net.Socket>((resolve, reject) => {
        let head = "";
        const timer = setTimeout(
          () =>
            reject(
              new TransportError("Timeout", `Proxy answered no CONNECT within ${timeoutMs} ms`),
            ),
          timeoutMs,
        );
        const end = (e?: Error) => {
          clearTimeout(timer);
          sock.off("data", onData);
          signal?.removeEventListener("abort", onAbort);
          if (e) reject(e);
          else resolve(sock);
        };
        const onAbort = () => end(signal!.reason);
        signal?.addEventListener("abort", onAbort, { once: true });
        const onData = (c: Uint8Array) => {
          head += new TextDecoder().decode(c);
          const i = head.indexOf("\r\n\r\n");
          if (i < 0) return;
          const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]);
          if (status === 200) end();
          else {
            end(
              new TransportError(
                "NetworkError",
                `Proxy ${proxy.host} refused CONNECT ${where}: ${head.split("\r\n")[0]}`,
              ),
            );
          }
        };
        sock.on("data", onData);
        sock.once(
          "error",
          (e) =>
            end(
              new TransportError("NetworkError", `Proxy ${proxy.host}: ${e.message}`, { cause: e }),
            ),
        );
        sock.once(proxy.protocol === "https:" ? "secureConnect" : "connect", () => {
          const auth = _proxyAuth(proxy)["proxy-authorization"];
          sock.write(
            `CONNECT ${where} HTTP/1.1\r\nHost: ${where}\r\n` +
              (auth ? `Proxy-Authorization: ${auth}\r\n` : "") + "\r\n",
          );
        });
      });
    } catch (e) {
      sock.destroy();
      throw e;
    }
  }

  close(): void {
    this.#http.destroy();
    this.#https.destroy();
  }
}
