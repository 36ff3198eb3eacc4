/**
 * HTTP client and SigV4 benchmark, printed as markdown tables with ratios.
 *
 * 1. SigV4 signing throughput: Tern's `signRequest()` (WebCrypto) against the
 *    AWS SDK's `@smithy/signature-v4` (with node:crypto SHA-256) on the same
 *    generated requests, in the same run.
 * 2. Streaming download of 100 MB from a local `Deno.serve` server: Tern's
 *    `urlFetch()` against bare `fetch`, each in its own child process so the
 *    peak RSS (VmHWM from /proc/self/status) is the client's alone.
 *
 * Run: deno run --allow-all tests/bench/http_bench.ts [--mb 100] [--sign 3000]
 */

import { createHash, createHmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";
import { signRequest } from "../../lib/aws/mod.ts";
import { urlFetch } from "../../lib/http/mod.ts";

class NodeSha256 {
  #h: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#h = secret === undefined ? createHash("sha256") : createHmac(
      "sha256",
      typeof secret === "string" ? secret : new Uint8Array(secret as ArrayBuffer),
    );
  }
  update(data: Uint8Array): void {
    this.#h.update(data);
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#h.digest()));
  }
}

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

const CREDS = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  sessionToken: "session-token-example",
};

/** A CloudWatch-Logs-like request with a ~1 KiB JSON body. */
function request(i: number) {
  const body = JSON.stringify({
    logGroupName: "tern",
    logStreamName: `device/${i}`,
    logEvents: Array.from({ length: 8 }, (_, j) => ({
      timestamp: 1_700_000_000_000 + j,
      message: `event ${i}.${j} temperature=21.${j} status=ok`.padEnd(100, "."),
    })),
  });
  return {
    path: `/`,
    query: { Action: "PutLogEvents", n: String(i) },
    headers: {
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": "Logs_20140328.PutLogEvents",
    },
    body,
  };
}

async function benchSign(n: number): Promise<string> {
  const host = "logs.eu-west-1.amazonaws.com";
  const reqs = Array.from({ length: n }, (_, i) => request(i));
  const date = new Date("2026-01-01T00:00:00Z");
  const smithy = new SignatureV4({
    credentials: CREDS,
    region: "eu-west-1",
    service: "logs",
    sha256: NodeSha256,
    applyChecksum: false,
  });
  const tern = (r: ReturnType<typeof request>) =>
    signRequest({
      method: "POST",
      url: `https://${host}${r.path}?${new URLSearchParams(r.query)}`,
      headers: r.headers,
      body: r.body,
    }, { credentials: CREDS, region: "eu-west-1", service: "logs", date });
  const sdk = (r: ReturnType<typeof request>) =>
    smithy.sign({
      method: "POST",
      protocol: "https:",
      hostname: host,
      path: r.path,
      query: r.query,
      headers: { ...r.headers, host },
      body: r.body,
    }, { signingDate: date });
  // Same signature first: the comparison is only fair if both do the same work.
  const a = await tern(reqs[0]!);
  const b = await sdk(reqs[0]!);
  if (a.headers.get("authorization") !== b.headers["authorization"]) {
    throw new Error("Signers disagree; fix before benchmarking");
  }
  const run = async (fn: (r: ReturnType<typeof request>) => Promise<unknown>) => {
    for (let i = 0; i < Math.min(300, n); i++) await fn(reqs[i]!); // warm-up
    const t0 = performance.now();
    for (const r of reqs) await fn(r);
    return n / ((performance.now() - t0) / 1000);
  };
  const rounds: [number, number][] = [];
  for (let round = 0; round < 3; round++) rounds.push([await run(tern), await run(sdk)]);
  const best = (k: 0 | 1) => Math.max(...rounds.map((r) => r[k]));
  const t = best(0), s = best(1);
  return [
    `| signer (${n} requests, ~1 KiB JSON body, best of 3) | signs/s | vs SDK |`,
    "|---|---:|---:|",
    `| @smithy/signature-v4 5.7.5 (node:crypto) | ${s.toFixed(0)} | 1.00 |`,
    `| Tern signRequest (WebCrypto) | ${t.toFixed(0)} | ${(t / s).toFixed(2)} |`,
  ].join("\n");
}

/** Child process: download `url` with `mode`, print {ms, bytes, rssBefore, peakRss} as JSON. */
async function child(mode: string, url: string): Promise<void> {
  const status = () => Deno.readTextFileSync("/proc/self/status");
  const kb = (field: string) =>
    Number(status().match(new RegExp(`${field}:\\s+(\\d+) kB`))![1]) * 1024;
  const rssBefore = kb("VmRSS");
  const t0 = performance.now();
  const res = mode === "tern" ? await urlFetch(url, { timeoutMs: 0 }) : await fetch(url);
  let bytes = 0;
  for await (const chunk of res.body!) bytes += chunk.byteLength;
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ ms, bytes, rssBefore, peakRss: kb("VmHWM") }));
}

type Download = { ms: number; bytes: number; rssBefore: number; peakRss: number };

async function benchDownload(mb: number): Promise<string> {
  const chunk = new Uint8Array(64 * 1024).fill(42);
  const { promise, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: (a) => resolve(a as Deno.NetAddr),
  }, (req) => {
    const size = Number(new URL(req.url).searchParams.get("bytes"));
    let sent = 0;
    return new Response(
      new ReadableStream<Uint8Array>({
        pull(c) {
          if (sent >= size) return c.close();
          sent += chunk.byteLength;
          c.enqueue(chunk);
        },
      }, { highWaterMark: 0 }),
      { headers: { "content-length": String(size) } },
    );
  });
  const addr = await promise;
  const lines = [
    "| client (streamed from local Deno.serve; MB/s best of 3, RSS worst of 3) | size (MB) | MB/s | vs bare | RSS before (MB) | peak RSS (MB) |",
    "|---|---:|---:|---:|---:|---:|",
  ];
  const MB = (n: number) => (n / 1024 / 1024).toFixed(1);
  try {
    for (const sizeMb of [mb, mb * 4]) {
      const size = sizeMb * 1024 * 1024;
      const url = `http://127.0.0.1:${addr.port}/blob?bytes=${size}`;
      const best: Record<string, Download> = {};
      const worstRss: Record<string, number> = {};
      for (let round = 0; round < 3; round++) {
        for (const mode of ["bare", "tern"]) {
          const out = await new Deno.Command(Deno.execPath(), {
            args: ["run", "--allow-all", import.meta.filename!, "child", mode, url],
            stdout: "piped",
            stderr: "inherit",
          }).output();
          const r: Download = JSON.parse(new TextDecoder().decode(out.stdout));
          if (r.bytes !== size) throw new Error(`${mode} read ${r.bytes} of ${size} bytes`);
          if (!best[mode] || r.ms < best[mode].ms) best[mode] = r;
          worstRss[mode] = Math.max(worstRss[mode] ?? 0, r.peakRss);
        }
      }
      const rate = (m: string) => sizeMb / (best[m]!.ms / 1000);
      for (const [mode, name] of [["bare", "bare fetch"], ["tern", "Tern urlFetch"]]) {
        lines.push(
          `| ${name} | ${sizeMb} | ${rate(mode!).toFixed(0)} | ${
            (rate(mode!) / rate("bare")).toFixed(2)
          } | ${MB(best[mode!]!.rssBefore)} | ${MB(worstRss[mode!]!)} |`,
        );
      }
    }
  } finally {
    await server.shutdown();
  }
  return lines.join("\n");
}

if (import.meta.main) {
  if (Deno.args[0] === "child") {
    await child(Deno.args[1]!, Deno.args[2]!);
  } else {
    console.log(`Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs\n`);
    console.log(await benchSign(arg("sign", 3000)));
    console.log();
    console.log(await benchDownload(arg("mb", 100)));
  }
}
