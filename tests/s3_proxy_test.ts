/**
 * Every S3 request follows the agent's HTTP settings (`http.proxy`,
 * `http.ca`), small and large alike, and the bandwidth cap holds on the
 * wire. The S3 endpoint is named `s3.test`, a name only the test proxy
 * (tests/helpers/http_proxy.ts) resolves: a request that skipped the proxy
 * could not reach S3 at all. Behind the proxy: s3rver (plain http:
 * absolute-form requests) or an HTTPS front with the fixture CA (https: a
 * CONNECT tunnel per request).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Agent } from "../lib/agent.ts";
import type { S3Service } from "../lib/cloud/s3/mod.ts";
import { LIBRARY_SERVICES } from "../lib/services.ts";
import { startHttpProxy, startTlsFront } from "./helpers/http_proxy.ts";
import {
  BUCKET,
  s3Config,
  type S3Peer,
  sha256Hex,
  startS3rver,
  writePattern,
} from "./helpers/s3.ts";
import { makeTlsFixtures } from "./helpers/tls.ts";
import { until } from "./helpers/wait.ts";

const MiB = 1024 * 1024;

async function agentAt(
  dir: string,
  peer: S3Peer,
  endpoint: string,
  s3: Record<string, unknown>,
  http: Record<string, unknown>,
) {
  const files = join(dir, "files");
  await Deno.mkdir(files, { recursive: true });
  const config = s3Config(
    endpoint,
    files,
    {
      partSize: 5 * MiB,
      multipartThreshold: 5 * MiB,
      ...s3,
    },
    peer.credentials,
    { http },
  );
  const agent = await Agent.start({
    loaded: { config, configDir: dir, stateDir: dir, files: [], secrets: [] },
    factories: LIBRARY_SERVICES,
  });
  return { agent, s3: agent.get<S3Service>("cloud.s3"), files };
}

async function uploadBoth(s3: S3Service, files: string, peer: S3Peer) {
  const small = join(files, "small.txt");
  await Deno.writeTextFile(small, "through the proxy\n");
  const big = join(files, "big.bin");
  await writePattern(big, 12 * MiB + 7, 3);
  const ids = [
    await s3.upload({ file: small, key: "dev/small.txt" }),
    await s3.upload({ file: big, key: "dev/big.bin" }),
  ];
  for (const id of ids) {
    await until(() => ["done", "failed"].includes(s3.status(id)?.state ?? ""), { ms: 30_000 });
    assert.equal(s3.status(id)?.state, "done", s3.status(id)?.error ?? "");
  }
  assert.equal(
    await sha256Hex((await peer.object(BUCKET, "dev/big.bin"))!),
    await sha256Hex(await Deno.readFile(big)),
  );
  assert.equal(
    new TextDecoder().decode(await peer.object(BUCKET, "dev/small.txt")),
    "through the proxy\n",
  );
}

Deno.test("http.proxy: PutObject and every multipart request go through the proxy", async () => {
  await using peer = await startS3rver();
  await using proxy = await startHttpProxy(["s3.test"]);
  const port = new URL(peer.url).port;
  await assert.rejects(fetch(`http://s3.test:${port}/`), "s3.test is unreachable directly");
  const dir = await Deno.makeTempDir({ prefix: "tern_s3_proxy_" });
  const { agent, s3, files } = await agentAt(dir, peer, `http://s3.test:${port}`, {}, {
    proxy: proxy.url,
  });
  try {
    await uploadBoth(s3, files, peer);
  } finally {
    await agent[Symbol.asyncDispose]();
  }
  const paths = proxy.requests.map((r) => r.replace(/uploadId=[^&]+/, "uploadId=U"));
  assert.ok(paths.includes(`PUT s3.test:${port}/${BUCKET}/dev/small.txt`), paths.join("\n"));
  assert.ok(paths.includes(`POST s3.test:${port}/${BUCKET}/dev/big.bin?uploads=`));
  for (const n of [1, 2, 3]) {
    assert.ok(
      paths.includes(`PUT s3.test:${port}/${BUCKET}/dev/big.bin?partNumber=${n}&uploadId=U`),
    );
  }
  assert.ok(paths.includes(`POST s3.test:${port}/${BUCKET}/dev/big.bin?uploadId=U`));
  // The sweep of abandoned uploads lists the bucket through the proxy too.
  assert.ok(paths.includes(`GET s3.test:${port}/${BUCKET}?prefix=d1%2F&uploads=`));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("https endpoint through the proxy: a CONNECT tunnel per request, TLS with http.ca", async () => {
  await using peer = await startS3rver();
  await using tls = await makeTlsFixtures(undefined, { serverDns: ["s3.test"] });
  await using front = await startTlsFront(peer.url, tls);
  await using proxy = await startHttpProxy(["s3.test"]);
  const dir = await Deno.makeTempDir({ prefix: "tern_s3_tunnel_" });
  const { agent, s3, files } = await agentAt(dir, peer, `https://s3.test:${front.port}`, {}, {
    proxy: proxy.url,
    ca: tls.paths.caCert,
  });
  try {
    await uploadBoth(s3, files, peer);
  } finally {
    await agent[Symbol.asyncDispose]();
  }
  assert.equal(proxy.requests.length, 0, "no request bypassed the tunnel");
  // PutObject, CreateMultipartUpload, 3 parts, CompleteMultipartUpload (+ a sweep's listing).
  assert.ok(proxy.connects.length >= 6, `${proxy.connects.length} tunnels`);
  assert.ok(proxy.connects.every((c) => c === `s3.test:${front.port}`), proxy.connects.join());
  await Deno.remove(dir, { recursive: true });
});

Deno.test("maxBandwidth holds within 10 % over every 2 s window on the wire, parts in parallel", async () => {
  await using peer = await startS3rver();
  await using proxy = await startHttpProxy(["s3.test"]);
  const port = new URL(peer.url).port;
  const dir = await Deno.makeTempDir({ prefix: "tern_s3_bw_" });
  const rate = 3 * MiB;
  const { agent, s3, files } = await agentAt(dir, peer, `http://s3.test:${port}`, {
    maxBandwidth: rate,
    parallel: 2,
  }, { proxy: proxy.url });
  const file = join(files, "bw.bin");
  const size = 14 * MiB;
  await writePattern(file, size, 6);
  try {
    const id = await s3.upload({ file, key: "dev/bw.bin" });
    await until(() => s3.status(id)?.state === "done", { ms: 30_000 });
  } finally {
    await agent[Symbol.asyncDispose]();
  }
  assert.equal(
    await sha256Hex((await peer.object(BUCKET, "dev/bw.bin"))!),
    await sha256Hex(await Deno.readFile(file)),
  );
  // Body bytes as they reached the proxy (headers are a few hundred bytes per request).
  const got = proxy.received;
  const total = got.reduce((a, [, n]) => a + n, 0);
  assert.ok(total >= size, `${total} bytes seen`);
  const first = got[0]![0];
  const last = got.at(-1)![0];
  const W = 2000;
  let worst = 0;
  for (let start = first; start + W <= last; start += 50) {
    let inWindow = 0;
    for (const [t, n] of got) if (t >= start && t < start + W) inWindow += n;
    worst = Math.max(worst, inWindow / (W / 1000));
  }
  const average = total / ((last - first) / 1000);
  console.log(
    `cap ${(rate / MiB).toFixed(2)} MiB/s: busiest 2 s window ${(worst / MiB).toFixed(2)} MiB/s, ` +
      `average ${(average / MiB).toFixed(2)} MiB/s over ${((last - first) / 1000).toFixed(1)} s`,
  );
  assert.ok(worst <= rate * 1.1, `a 2 s window ran at ${(worst / MiB).toFixed(2)} MiB/s`);
  // And the cap is used, not undercut by far (a loaded machine may be slower).
  assert.ok(average >= rate * 0.7, `average ${(average / MiB).toFixed(2)} MiB/s`);
  await Deno.remove(dir, { recursive: true });
});
