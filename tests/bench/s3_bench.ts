/**
 * S3 uploads benchmark: a 1 GB file (sparse) to s3rver on loopback, by the
 * agent (`cloud.s3.upload`, tests/s3_agent_child.ts: queue, per-part
 * persistence, SHA-256 checksums) and by a raw multipart loop with the
 * official SDK (tests/bench/_s3_raw_child.ts), same part size (5 MiB) and 2
 * parts in flight, each in its own process so peak RSS (VmHWM) is the
 * client's alone. Rounds alternate Tern and raw. Prints a Markdown table.
 *
 * Command: `deno run --allow-all tests/bench/s3_bench.ts [--rounds N] [--mb SIZE]`
 */

import { join } from "node:path";
import { BUCKET, startS3rver } from "../helpers/s3.ts";

const arg = (name: string, def: number) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : def;
};
const ROUNDS = arg("rounds", 1);
const SIZE = arg("mb", 1024) * 1024 * 1024;
const PART = 5 * 1024 * 1024;

interface Run {
  ms: number;
  rssStartMB: number;
  rssPeakMB: number;
}

async function child(args: string[]): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", ...args],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`child failed: ${args[0]}`);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
}

if (import.meta.main) {
  await using peer = await startS3rver();
  const dir = await Deno.makeTempDir({ prefix: "tern_s3_bench_" });
  const files = join(dir, "files");
  await Deno.mkdir(files);
  const file = join(files, "sparse.bin");
  {
    using f = await Deno.open(file, { write: true, create: true });
    await f.truncate(SIZE);
  }
  const tern: Run[] = [];
  const raw: Run[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const state = join(dir, `state${r}`);
    await Deno.mkdir(state);
    tern.push(
      await child([
        new URL("../s3_agent_child.ts", import.meta.url).pathname,
        state,
        peer.url,
        file,
        `bench/tern-${r}.bin`,
      ]),
    );
    raw.push(
      await child([
        new URL("./_s3_raw_child.ts", import.meta.url).pathname,
        peer.url,
        file,
        `bench/raw-${r}.bin`,
        String(PART),
      ]),
    );
    const h = await peer.head(BUCKET, `bench/tern-${r}.bin`);
    if (Number(h?.get("content-length")) !== SIZE) throw new Error("Tern's object is incomplete");
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const mibs = (runs: Run[]) => med(runs.map((x) => (SIZE / 1048576) / (x.ms / 1000)));
  const peak = (runs: Run[]) => med(runs.map((x) => x.rssPeakMB));
  const start = (runs: Run[]) => med(runs.map((x) => x.rssStartMB));
  console.log(`| client | MiB/s | RSS before MB | peak RSS MB |`);
  console.log(`|---|---:|---:|---:|`);
  console.log(
    `| Tern (cloud.s3, own client) | ${mibs(tern).toFixed(1)} | ${start(tern).toFixed(1)} | ${
      peak(tern).toFixed(1)
    } |`,
  );
  console.log(
    `| raw loop, @aws-sdk/client-s3 | ${mibs(raw).toFixed(1)} | ${start(raw).toFixed(1)} | ${
      peak(raw).toFixed(1)
    } |`,
  );
  console.log(
    `\nthroughput ratio (Tern / raw): ${(mibs(tern) / mibs(raw)).toFixed(2)}; peak RSS ratio: ${
      (peak(tern) / peak(raw)).toFixed(2)
    }`,
  );
  console.log(
    `${ROUNDS} round(s), ${SIZE / 1048576} MiB, part 5 MiB, 2 in flight, s3rver on loopback`,
  );
  await Deno.remove(dir, { recursive: true });
}
