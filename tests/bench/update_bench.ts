/**
 * OTA update benchmark (lib/cloud/update, docs/update.md), Tern against the
 * bare runtime in the same run, on loopback:
 *
 * 1. Download + verify of a `--mb` MiB release (default 200) from a local
 *    HTTP server (`Deno.serve` in this process, streaming the file, with
 *    Range support), each side in its own child process so its peak RSS
 *    (VmHWM) is its own:
 *    - Tern: the updater's `download()` (lib/http client from the default
 *      `http` config, the default `update` config's bandwidth, reserve and
 *      backoff; fsync every 1 MiB and the durable offset written to the
 *      `_update` row in SQLite after each, as `Updater` does), then
 *      `sha256File()` of the finished part;
 *    - bare: `fetch()` streamed to a file, each chunk fed to node:crypto's
 *      incremental SHA-256 (`crypto.subtle` has no streaming digest), one
 *      fsync at the end.
 *    Rounds alternate bare and Tern; medians.
 * 2. The signature check (`verifySignature`, Ed25519 and ECDSA P-256, key
 *    import included) and the A/B install steps of that file (`Installer`:
 *    stage = copy to BIN.next + fsync + rename + dir fsync; keep; mark; swap),
 *    stage against a bare `Deno.copyFile` + fsync + rename.
 *
 * Run: deno run --allow-all tests/bench/update_bench.ts [--mb 200] [--rounds 3]
 * Writes tests/bench/results/update.md.
 */

import { createHash } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { systemClock } from "../../lib/clock.ts";
import { configSchema } from "../../lib/config/mod.ts";
import { HttpClient, httpClientOptions } from "../../lib/http/mod.ts";
import { nullLogger } from "../../lib/log/mod.ts";
import {
  download,
  Installer,
  parseDocument,
  sha256File,
  signedMessage,
  UpdateStore,
  verifySignature,
} from "../../lib/cloud/update/mod.ts";

function arg(name: string, def: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : def;
}
const MIB = 1024 * 1024;

function vm(key: "VmHWM" | "VmRSS"): number {
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(Deno.readTextFileSync("/proc/self/status"));
  return Number(m?.[1] ?? NaN) / 1024;
}

interface ChildResult {
  ms: number;
  hash: string;
  rssStart: number;
  hwm: number;
  syncs: number;
  /** VmRSS (MB) when a quarter, half and all of the bytes were in. */
  rssAt: number[];
}

// --- the child sides ----------------------------------------------------------

async function ternSide(url: string, dir: string, size: number): Promise<ChildResult> {
  const db = new DatabaseSync(join(dir, "tern.db"));
  db.exec("PRAGMA journal_mode = WAL");
  const store = new UpdateStore(db);
  const config = configSchema.parse({});
  const u = config.update;
  const http = new HttpClient(
    await httpClientOptions(config.http, {
      configDir: dir,
      clock: systemClock,
      logger: nullLogger,
    }),
  );
  const jobId = "bench-job";
  store.add(jobId, { version: "9.9.9", size }, 1, Date.now());
  const part = join(dir, `${jobId}.part`);
  let syncs = 0;
  const rssAt: number[] = [];
  const rssStart = vm("VmRSS");
  const t0 = performance.now();
  await download({
    http,
    clock: systemClock,
    url,
    path: part,
    size,
    durable: store.get(jobId)!.bytes,
    bandwidth: u.bandwidth,
    reserve: u.reserve,
    backoff: u.backoff,
    signal: new AbortController().signal,
    onProgress: (n) => {
      syncs++;
      store.progress(jobId, n, Date.now());
      if (n >= (rssAt.length + 1) * size / 4 && rssAt.length < 3) rssAt.push(vm("VmRSS"));
    },
  });
  const hash = await sha256File(part);
  const ms = performance.now() - t0;
  if (store.get(jobId)!.bytes !== size) throw new Error("The durable offset is not the size");
  db.close();
  return { ms, hash, rssStart, hwm: vm("VmHWM"), syncs, rssAt };
}

async function bareSide(url: string, dir: string, size: number): Promise<ChildResult> {
  const rssAt: number[] = [];
  let got = 0;
  const rssStart = vm("VmRSS");
  const t0 = performance.now();
  const h = createHash("sha256");
  const res = await fetch(url);
  using f = await Deno.open(join(dir, "bare.part"), { write: true, create: true, truncate: true });
  for await (const chunk of res.body!) {
    let w = 0;
    while (w < chunk.length) w += await f.write(chunk.subarray(w));
    h.update(chunk);
    got += chunk.length;
    if (got >= (rssAt.length + 1) * size / 4 && rssAt.length < 3) rssAt.push(vm("VmRSS"));
  }
  await f.sync();
  const hash = h.digest("hex");
  return { ms: performance.now() - t0, hash, rssStart, hwm: vm("VmHWM"), syncs: 1, rssAt };
}

if (Deno.args[0] === "--child") {
  const [, side, url, dir, size] = Deno.args;
  const r = side === "tern"
    ? await ternSide(url!, dir!, Number(size))
    : await bareSide(url!, dir!, Number(size));
  console.log(JSON.stringify(r));
  Deno.exit(0);
}

// --- the parent ------------------------------------------------------------------

const MB = arg("mb", 200);
const ROUNDS = arg("rounds", 3);
const SIZE = MB * MIB;

async function makeRelease(path: string): Promise<string> {
  const h = createHash("sha256");
  const block = new Uint8Array(MIB);
  for (let o = 0; o < MIB; o += 65536) crypto.getRandomValues(block.subarray(o, o + 65536));
  using f = await Deno.open(path, { write: true, create: true, truncate: true });
  for (let i = 0; i < MB; i++) {
    new DataView(block.buffer).setUint32(0, i); // every MiB differs
    let w = 0;
    while (w < block.length) w += await f.write(block.subarray(w));
    h.update(block);
  }
  return h.digest("hex");
}

function serve(path: string) {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const f = await Deno.open(path, { read: true });
    const m = /^bytes=(\d+)-$/.exec(req.headers.get("range") ?? "");
    if (m) {
      const from = Number(m[1]);
      await f.seek(from, Deno.SeekMode.Start);
      return new Response(f.readable, {
        status: 206,
        headers: {
          "content-length": String(SIZE - from),
          "content-range": `bytes ${from}-${SIZE - 1}/${SIZE}`,
        },
      });
    }
    return new Response(f.readable, { headers: { "content-length": String(SIZE) } });
  });
}

async function child(side: "tern" | "bare", url: string, dir: string): Promise<ChildResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL(import.meta.url).pathname,
      "--child",
      side,
      url,
      dir,
      String(SIZE),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (out.code !== 0) throw new Error(`${side} child failed with exit ${out.code}`);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
}

const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f = (n: number, d = 1) => n.toFixed(d);

async function timeIt(fn: () => Promise<unknown>, n: number): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return med(ms);
}

async function signatureTimes(sha256: string) {
  const out: Record<string, number> = {};
  for (
    const [alg, gen, sign] of [
      ["ed25519", { name: "Ed25519" }, { name: "Ed25519" }],
      ["ecdsa-p256", { name: "ECDSA", namedCurve: "P-256" }, { name: "ECDSA", hash: "SHA-256" }],
    ] as const
  ) {
    const pair = await crypto.subtle.generateKey(gen as EcKeyGenParams, true, [
      "sign",
      "verify",
    ]) as CryptoKeyPair;
    const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
    const d0 = {
      version: "9.9.9",
      target: "x86_64-unknown-linux-gnu",
      size: SIZE,
      sha256,
    };
    const sig = new Uint8Array(
      await crypto.subtle.sign(sign, pair.privateKey, signedMessage(d0 as never)),
    );
    const doc = parseDocument({
      operation: "tern.update",
      ...d0,
      url: "https://releases.example/tern",
      signature: { keyId: "k", alg, value: btoa(String.fromCharCode(...sig)) },
    });
    const keys = [{ id: "k", alg, key: btoa(String.fromCharCode(...spki)) }];
    if (!await verifySignature(doc, keys)) throw new Error(`${alg} signature does not verify`);
    out[alg] = await timeIt(() => verifySignature(doc, keys), 50);
  }
  return out;
}

async function installTimes(part: string, dir: string) {
  const steps: Record<string, number[]> = { stage: [], keep: [], mark: [], swap: [], bare: [] };
  for (let r = 0; r < ROUNDS; r++) {
    const binDir = join(dir, `bin${r}`);
    await Deno.mkdir(binDir);
    const bin = join(binDir, "tern");
    await Deno.writeFile(bin, new Uint8Array(MIB), { mode: 0o755 }); // the running binary
    const inst = new Installer({ bin, stateDir: join(dir, `state${r}`) });
    await inst.ensureDir();
    for (
      const [step, fn] of [
        ["stage", () => inst.stage(part)],
        ["keep", () => inst.keep()],
        ["mark", () => inst.mark("bench-job", "9.9.9")],
        ["swap", () => inst.swap()],
      ] as const
    ) {
      const t0 = performance.now();
      await fn();
      steps[step]!.push(performance.now() - t0);
    }
    // Bare: the same bytes copied beside the binary, fsynced, renamed.
    const t0 = performance.now();
    const tmp = join(binDir, "bare.tmp");
    await Deno.copyFile(part, tmp);
    {
      using fh = await Deno.open(tmp, { write: true });
      await fh.sync();
    }
    await Deno.rename(tmp, join(binDir, "bare"));
    steps.bare!.push(performance.now() - t0);
    await Deno.remove(binDir, { recursive: true });
  }
  return Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, med(v)]));
}

if (import.meta.main) {
  const dir = await Deno.makeTempDir({ prefix: "tern-update-bench-" });
  try {
    const release = join(dir, "release.bin");
    const sha = await makeRelease(release);
    const server = serve(release);
    const url = `http://127.0.0.1:${server.addr.port}/release.bin`;
    const bare: ChildResult[] = [];
    const tern: ChildResult[] = [];
    let lastPart: string | undefined;
    for (let r = 0; r < ROUNDS; r++) {
      for (const side of ["bare", "tern"] as const) {
        const d = join(dir, `${side}${r}`);
        await Deno.mkdir(d);
        const res = await child(side, url, d);
        if (res.hash !== sha) throw new Error(`${side}: SHA-256 ${res.hash}, want ${sha}`);
        (side === "bare" ? bare : tern).push(res);
        console.log(
          `${side} round ${r + 1}: ${f(SIZE / MIB / (res.ms / 1000))} MiB/s, peak ${f(res.hwm)} MB`,
        );
        if (side === "tern" && r === ROUNDS - 1) lastPart = join(d, "bench-job.part");
        else await Deno.remove(d, { recursive: true });
      }
    }
    await server.shutdown();
    const sig = await signatureTimes(sha);
    const inst = await installTimes(lastPart!, dir);
    const rate = (rs: ChildResult[]) => med(rs.map((x) => SIZE / MIB / (x.ms / 1000)));
    const rates = (rs: ChildResult[]) => rs.map((x) => f(SIZE / MIB / (x.ms / 1000), 0)).join(", ");
    const hwm = (rs: ChildResult[]) => med(rs.map((x) => x.hwm));
    const start = (rs: ChildResult[]) => med(rs.map((x) => x.rssStart));
    const at = (rs: ChildResult[]) =>
      [0, 1, 2].map((i) => f(med(rs.map((x) => x.rssAt[i] ?? NaN)), 0)).join(" / ");
    const load = Deno.loadavg().map((x) => x.toFixed(2)).join(", ");
    const table = [
      "# OTA update (lib/cloud/update vs bare fetch + streaming hash)",
      "",
      `Command: \`deno run --allow-all tests/bench/update_bench.ts --mb ${MB} --rounds ${ROUNDS}\` ` +
      `(Deno ${Deno.version.deno}, ${MB} MiB release served by \`Deno.serve\` on loopback, each side a ` +
      `child process; bare and Tern alternating, median of ${ROUNDS}). Load average at the end: ${load} ` +
      `(shared 2-core machine).`,
      "",
      `| download + SHA-256 of ${MB} MiB | MiB/s (median) | rounds | peak RSS MB (VmHWM) | RSS before MB | RSS at 25 / 50 / 75 % MB | fsyncs |`,
      "|---|---:|---:|---:|---:|---:|---:|",
      `| bare: \`fetch\` → file, streaming node:crypto hash, 1 fsync | ${f(rate(bare), 0)} | ${
        rates(bare)
      } | ${f(hwm(bare))} | ${f(start(bare))} | ${at(bare)} | 1 |`,
      `| Tern: \`download()\` (fsync + SQLite offset every MiB) + \`sha256File()\` | ${
        f(rate(tern), 0)
      } | ${rates(tern)} | ${f(hwm(tern))} | ${f(start(tern))} | ${at(tern)} | ${tern[0]!.syncs} |`,
      `| ratio (Tern / bare) | ${f(rate(tern) / rate(bare), 2)} | | ${
        f(hwm(tern) / hwm(bare), 2)
      } | | |`,
      "",
      "| step (median) | ms |",
      "|---|---:|",
      `| signature check, Ed25519 (key import + verify; 50 runs) | ${f(sig["ed25519"]!, 3)} |`,
      `| signature check, ECDSA P-256 (key import + verify; 50 runs) | ${
        f(sig["ecdsa-p256"]!, 3)
      } |`,
      `| install: stage (copy ${MB} MiB to BIN.next, fsync, rename, dir fsync) | ${
        f(inst.stage!)
      } |`,
      `| install: bare \`Deno.copyFile\` + fsync + rename of the same file | ${f(inst.bare!)} |`,
      `| stage ratio (Tern / bare) | ${f(inst.stage! / inst.bare!, 2)} |`,
      `| install: keep (hard link BIN → BIN.prev, dir fsync) | ${f(inst.keep!, 2)} |`,
      `| install: mark (\`pending\` written, fsynced, renamed) | ${f(inst.mark!, 2)} |`,
      `| install: swap (rename BIN.next → BIN, dir fsync) | ${f(inst.swap!, 2)} |`,
      "",
    ].join("\n");
    await Deno.writeTextFile(new URL("./results/update.md", import.meta.url), table + "\n");
    console.log(table);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
