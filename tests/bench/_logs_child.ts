/**
 * Child of logs_bench.ts: follows DIR/*.log and uploads it to ENDPOINT.
 * - `agent`: the Tern agent with cloud.logs (a file source, defaults
 *   otherwise: spool in SQLite, 5 s flush, SigV4-signed PutLogEvents);
 * - `raw`: the runtime's limit — polls the file as often as the file source
 *   does by default (`poll`), and every 5 s sends the same batches (≤ 10,000 events, each
 *   with its line's own time, read with `Date.parse` of the bench's ISO prefix) with a
 *   bare `fetch`: no SQLite, no signing.
 * Prints `ready` once following; on SIGUSR2 runs one full GC and prints
 * `settled`. Run with the start task's flags (RUNTIME_FLAGS, RUNTIME_ENV).
 *
 * Usage: deno run -A tests/bench/_logs_child.ts agent|raw DIR ENDPOINT
 */

import { Agent } from "../../lib/agent.ts";
import { configSchema } from "../../lib/config/mod.ts";
import { LogHub } from "../../lib/log/mod.ts";
import { LIBRARY_SERVICES } from "../../lib/services.ts";
import { settleHeap, settleWhenIdle } from "../../lib/cli/mod.ts";

if (import.meta.main) await main();

/** The raw loop's send: one unsigned PutLogEvents of `logEvents` with `fetch`, nothing else. */
export async function rawPut(
  endpoint: string,
  logEvents: { timestamp: number; message: string }[],
): Promise<void> {
  const r = await fetch(endpoint, {
    method: "POST",
    headers: {
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": "Logs_20140328.PutLogEvents",
    },
    body: JSON.stringify({
      logGroupName: "/tern/bench",
      logStreamName: "bench/app.log",
      logEvents,
    }),
  });
  await r.body?.cancel();
}

async function main(): Promise<void> {
  const [mode, dir, endpoint] = Deno.args as [string, string, string];
  // A clean exit on SIGTERM, so a --cpu-prof run writes its profile.
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
  // SIGUSR2: one memory-reducing full GC (what `tern run` does when idle),
  // then "settled", so the parent reads RSS in the same state at both ends.
  Deno.addSignalListener("SIGUSR2", () => {
    settleHeap();
    console.log("settled");
  });
  if (mode === "agent") {
    const config = configSchema.parse({
      agent: { mode: "cloud" },
      device: { id: "bench" },
      aws: {
        region: "eu-west-1",
        credentials: { accessKeyId: "AKIDBENCH0000001", secretAccessKey: "bench-secret-key-0001" },
      },
      cloud: {
        logs: {
          enabled: true,
          endpoint,
          agent: { enabled: false },
          app: { enabled: false },
          files: [{ path: `${dir}/*.log` }],
        },
      },
    });
    await Agent.start({
      loaded: { config, configDir: dir, stateDir: `${dir}/state`, files: [], secrets: [] },
      factories: LIBRARY_SERVICES,
      hub: new LogHub({ sinks: [] }),
    });
    // As `tern run` does after the start (lib/cli/run.ts).
    settleHeap();
    void settleWhenIdle();
    console.log("ready");
    return;
  }
  // raw: as often as the agent's file source looks at its files by default.
  const poll = configSchema.parse({
    cloud: { logs: { files: [{ path: `${dir}/app.log` }] } },
  }).cloud.logs.files[0]!.poll;
  const path = `${dir}/app.log`;
  let off = 0;
  let rest = "";
  let pending: { timestamp: number; message: string }[] = [];
  const dec = new TextDecoder();
  let lastSend = Date.now();
  console.log("ready");
  for (;;) {
    await new Promise((r) => setTimeout(r, poll));
    try {
      using f = await Deno.open(path);
      const size = (await f.stat()).size;
      if (size > off) {
        const buf = new Uint8Array(size - off);
        await f.seek(off, Deno.SeekMode.Start);
        let got = 0;
        while (got < buf.length) {
          const n = await f.read(buf.subarray(got));
          if (!n) break;
          got += n;
        }
        off += got;
        const lines = (rest + dec.decode(buf.subarray(0, got))).split("\n");
        rest = lines.pop()!;
        // Each event keeps its own time, as the agent's do (the bench writes ISO 8601 lines).
        for (const l of lines) {
          if (l) pending.push({ timestamp: Date.parse(l.slice(0, 24)), message: l });
        }
      }
    } catch { /* not yet */ }
    if (Date.now() - lastSend >= 5000 && pending.length) {
      lastSend = Date.now();
      const all = pending;
      pending = [];
      for (let i = 0; i < all.length; i += 10_000) {
        await rawPut(endpoint, all.slice(i, i + 10_000));
      }
    }
  }
}
