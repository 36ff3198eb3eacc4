/**
 * The runtime's own readers of /proc, for the OS collector on a live system
 * (Deno 2 refuses /proc itself to anything short of --allow-all): `node:os`
 * `cpus()` (`--allow-sys=cpus`) and `Deno.systemMemoryInfo()`
 * (`--allow-sys=systemMemoryInfo`), in the shapes the /proc parsers give
 * (lib/metrics/_proc.ts). Units: ms of CPU time, bytes.
 */

import { cpus } from "node:os";

/** CPU time per core (`cpuN`) and in total (`cpu`): [busy, total] ms. */
export function systemCpu(): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  let busyAll = 0;
  let totalAll = 0;
  cpus().forEach((c, i) => {
    const t = c.times;
    const busy = t.user + t.nice + t.sys + t.irq;
    const total = busy + t.idle;
    out.set(`cpu${i}`, [busy, total]);
    busyAll += busy;
    totalAll += total;
  });
  out.set("cpu", [busyAll, totalAll]);
  return out;
}

/** Memory as `/proc/meminfo` keys: MemTotal, MemAvailable, SwapTotal, SwapFree (bytes). */
export function systemMemory(): Map<string, number> {
  const i = Deno.systemMemoryInfo();
  return new Map([
    ["MemTotal", i.total],
    ["MemAvailable", i.available],
    ["SwapTotal", i.swapTotal],
    ["SwapFree", i.swapFree],
  ]);
}
