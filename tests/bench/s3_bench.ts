/**
 * S3 uploads benchmark: a 1 GB file (sparse) to s3rver on loopback, by the
 * agent (`cloud.s3.upload`, tests/s3_agent_child.ts: queue, per-part
 * persistence, SHA-256 checksums) and by a raw multipart loop with the
 * official SDK (tests/bench/_s3_raw_child.ts), same part size (5 MiB) and 2
 * parts in flight, each in its own process so peak RSS (VmHWM) is the
 * client's alone. Each round runs both, in alternating order (odd rounds raw
 * first). Prints a Markdown table of every round (throughput, peak RSS and
 * their ratios) and the median and range, and appends it to
 * tests/bench/out/s3_runs.md (`--no-write`: print only), from which
 * tests/bench/results/s3.md is written with notes.
 *
 * Command: `deno run --allow-all tests/bench/s3_bench.ts [--rounds 3] [--warmup 1] [--mb SIZE] [--no-write]`
 * (the warm-up uploads, one per client, are not counted).
 */

import { join } from "node:path";
import { BUCKET, startS3rver } from "../helpers/s3.ts";

const arg = (name: string, def: number) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : def;
};
const ROUNDS = arg("rounds", 3);
const WARMUP = arg("warmup", 1);
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
  // Warm-up, not counted: the first upload to a fresh s3rver is the slowest, whoever sends it.
  for (let w = 0; w < WARMUP; w++) {
    const state = join(dir, `warm${w}`);
    await Deno.mkdir(state);
    const agent = new URL("../s3_agent_child.ts", import.meta.url).pathname;
    await child([agent, state, peer.url, file, `bench/warm-tern-${w}.bin`]);
    await child([
      new URL("./_s3_raw_child.ts", import.meta.url).pathname,
      peer.url,
      file,
      `bench/warm-raw-${w}.bin`,
      String(PART),
    ]);
  }
  const load0 = Deno.loadavg().map((x) => x.toFixed(2)).join(", ");
  for (let r = 0; r < ROUNDS; r++) {
    const state = join(dir, `state${r}`);
    await Deno.mkdir(state);
    const runTern = async () =>
      tern.push(
        await child([
          new URL("../s3_agent_child.ts", import.meta.url).pathname,
          state,
          peer.url,
          file,
          `bench/tern-${r}.bin`,
        ]),
      );
    const runRaw = async () =>
      raw.push(
        await child([
          new URL("./_s3_raw_child.ts", import.meta.url).pathname,
          peer.url,
          file,
          `bench/raw-${r}.bin`,
          String(PART),
        ]),
      );
    if (r % 2) await runRaw(), await runTern();
    else await runTern(), await runRaw();
    const h = await peer.head(BUCKET, `bench/tern-${r}.bin`);
    if (Number(h?.get("content-length")) !== SIZE) throw new Error("Tern's object is incomplete");
  }
  const load1 = Deno.loadavg().map((x) => x.toFixed(2)).join(", ");
  const mib = (x: Run) => (SIZE / 1048576) / (x.ms / 1000);
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const range = (xs: number[], d = 2) =>
    `${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}`;
  const speed = tern.map((t, i) => mib(t) / mib(raw[i]!));
  const rss = tern.map((t, i) => t.rssPeakMB / raw[i]!.rssPeakMB);
  const lines = [
    `| round | Tern MiB/s | raw MiB/s | throughput ratio (Tern / raw) | Tern peak RSS MB | raw peak RSS MB | peak RSS ratio |`,
    `|---:|---:|---:|---:|---:|---:|---:|`,
    ...tern.map((t, i) =>
      `| ${i + 1} | ${mib(t).toFixed(1)} | ${mib(raw[i]!).toFixed(1)} | ${speed[i]!.toFixed(2)} | ${
        t.rssPeakMB.toFixed(1)
      } | ${raw[i]!.rssPeakMB.toFixed(1)} | ${rss[i]!.toFixed(2)} |`
    ),
    `| **median** | ${med(tern.map(mib)).toFixed(1)} | ${med(raw.map(mib)).toFixed(1)} | **${
      med(speed).toFixed(2)
    }** | ${med(tern.map((t) => t.rssPeakMB)).toFixed(1)} | ${
      med(raw.map((t) => t.rssPeakMB)).toFixed(1)
    } | **${med(rss).toFixed(2)}** |`,
  ];
  const summary =
    `${ROUNDS} round(s) after ${WARMUP} warm-up, ${
      SIZE / 1048576
    } MiB sparse file, part 5 MiB, 2 in flight, s3rver on loopback; ` +
    `throughput ratio range ${range(speed)}, peak RSS ratio range ${range(rss)}; ` +
    `RSS before the upload: Tern ${range(tern.map((t) => t.rssStartMB), 1)} MB, raw ${
      range(raw.map((t) => t.rssStartMB), 1)
    } MB; load average ${load0} → ${load1}`;
  const append = { append: true };
  console.log(lines.join("\n") + "\n\n" + summary);
  if (!Deno.args.includes("--no-write")) {
    // Each run is appended to tests/bench/out/s3_runs.md; results/s3.md collects them with notes.
    const out = new URL("./out/s3_runs.md", import.meta.url).pathname;
    Deno.mkdirSync(new URL("./out/", import.meta.url).pathname, { recursive: true });
    Deno.writeTextFileSync(
      out,
      `${new Date().toISOString()}: \`deno run --allow-all tests/bench/s3_bench.ts ${
        Deno.args.join(" ")
      }\`\n\n${lines.join("\n")}\n\n${summary}\n\n`,
      append,
    );
  }
  await Deno.remove(dir, { recursive: true });
}
