/**
 * The OS collector: CPU (total and per core), load, memory and swap, disk
 * usage per mount, disk I/O, network bytes and errors per interface,
 * temperature and uptime, with no extra process. Each group can be switched
 * off.
 *
 * Sources. Deno 2 refuses to read `/proc` and `/sys` to anything short of
 * `--allow-all` ("Requires all access"), which Tern never asks for. On the
 * live system (`root` "/") CPU, load, memory and uptime therefore come from
 * the runtime's own readers of those files (`node:os` `cpus()`,
 * `Deno.loadavg()`, `Deno.systemMemoryInfo()`, `Deno.osUptime()`:
 * `--allow-sys=cpus,loadavg,systemMemoryInfo,osUptime`), disk usage from
 * `statfs` (`--allow-sys=statfs` and read access to the path). Disk I/O,
 * network counters and temperature exist only as `/proc` and `/sys` files:
 * a group whose file the runtime refuses is switched off at its first read
 * and named in `problems`. With another `root` (recorded fixtures) every
 * group is parsed from the files under it.
 *
 * `update()` reads the files (the metrics service calls it every
 * `cloud.metrics.interval`); `families()` returns the values of the last
 * update, so `/metrics` and CloudWatch see the same numbers. CPU utilisation
 * is over the time between two updates; the first update gives none.
 *
 * Series (Prometheus name → CloudWatch name, unit, dimensions):
 * - `tern_os_cpu_utilization_percent{cpu="all"|"N"}` → `CpuUtilization`, Percent (Core for N)
 * - `tern_os_load_average{period="1m|5m|15m"}` → `LoadAverage`, None (Period)
 * - `tern_os_memory_used_percent` → `MemoryUtilization`, Percent;
 *   `tern_os_memory_available_bytes` → `MemoryAvailable`, Bytes;
 *   `tern_os_memory_total_bytes`; `tern_os_swap_used_bytes` → `SwapUsed`, Bytes;
 *   `tern_os_swap_total_bytes`
 * - `tern_os_disk_used_percent{mount}` → `DiskUtilization`, Percent (Mount);
 *   `tern_os_disk_free_bytes{mount}` → `DiskFree`, Bytes (Mount)
 * - `tern_os_disk_read_bytes_total{disk}` / `_written_bytes_total` →
 *   `DiskReadBytes` / `DiskWriteBytes`, Bytes per period (Disk)
 * - `tern_os_network_receive_bytes_total{interface}` / `_transmit_` →
 *   `NetworkIn` / `NetworkOut`, Bytes per period; `tern_os_network_errors_total` →
 *   `NetworkErrors`, Count (Interface; `lo` left out)
 * - `tern_os_temperature_celsius{zone}` → `Temperature`, None (Zone: the zone's type)
 * - `tern_os_uptime_seconds` → `Uptime`, Seconds
 */

import { statfsSync, statSync } from "node:fs";
import {
  mountOf,
  parseDiskstats,
  parseLoadavg,
  parseMeminfo,
  parseMountinfo,
  parseNetDev,
  parseStat,
  parseUptime,
} from "./_proc.ts";
import { systemCpu, systemMemory } from "./_system.ts";
import type { MetricFamily, Series } from "./registry.ts";

/** Which groups are read. */
export interface OsGroups {
  cpu: boolean;
  /** Per-core CPU series as well. */
  perCore: boolean;
  load: boolean;
  memory: boolean;
  disk: boolean;
  diskIo: boolean;
  network: boolean;
  temperature: boolean;
  uptime: boolean;
}

/** Options of {@linkcode OsCollector}. */
export interface OsCollectorOptions {
  /** Root of `/proc` and `/sys` (a fixture directory in tests). @default "/" */
  root?: string;
  /** @default every group, per-core CPU included */
  groups?: Partial<OsGroups>;
  /** Paths whose file system usage is measured (one series per mount). @default [] */
  diskPaths?: readonly string[];
  /** `statfs` (tests). @default node:fs statfsSync */
  statfs?: (path: string) => { blocks: number; bfree: number; bavail: number; bsize: number };
  /**
   * Where CPU, load, memory and uptime come from: the runtime's APIs or the
   * files under `root`. @default "system" for root "/", else "files"
   */
  source?: "system" | "files";
}

const ALL: OsGroups = {
  cpu: true,
  perCore: true,
  load: true,
  memory: true,
  disk: true,
  diskIo: true,
  network: true,
  temperature: true,
  uptime: true,
};

export class OsCollector {
  readonly #root: string;
  readonly #g: OsGroups;
  readonly #paths: readonly string[];
  readonly #statfs: NonNullable<OsCollectorOptions["statfs"]>;
  readonly #system: boolean;
  /** Groups switched off because the runtime refused their files. */
  readonly #refused = new Set<string>();
  #cpuPrev = new Map<string, [number, number]>();
  #families: MetricFamily[] = [];
  /** Files that could not be read at the last update, with the error (status). */
  readonly problems = new Map<string, string>();

  constructor(options: OsCollectorOptions = {}) {
    this.#root = (options.root ?? "/").replace(/\/$/, "");
    this.#g = { ...ALL, ...options.groups };
    this.#paths = options.diskPaths ?? [];
    this.#statfs = options.statfs ?? statfsSync;
    this.#system = (options.source ?? (this.#root === "" ? "system" : "files")) === "system";
  }

  /** A file's text; a file the runtime refuses switches `group` off (once, in `problems`). */
  #read(path: string, group?: string): string | undefined {
    try {
      const t = Deno.readTextFileSync(this.#root + path);
      this.problems.delete(path);
      return t;
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (group && (e as { name?: string })?.name === "NotCapable") {
        this.#refused.add(group);
        this.problems.set(
          group,
          `off: Deno reads ${path} only with --allow-all, which Tern does not ask for`,
        );
      } else this.problems.set(path, msg);
      return undefined;
    }
  }

  /** Run `fn` for the system source, recording a failure under `what`. */
  #sys<T>(what: string, fn: () => T): T | undefined {
    try {
      const v = fn();
      this.problems.delete(what);
      return v;
    } catch (e) {
      this.problems.set(what, e instanceof Error ? e.message : String(e));
      return undefined;
    }
  }

  /** The values of the last update. */
  families(): MetricFamily[] {
    return this.#families;
  }

  /** Read every enabled group now. */
  update(): void {
    const g = this.#g;
    const out: MetricFamily[] = [];
    const gauge = (
      name: string,
      help: string,
      series: Series[],
      cloud?: MetricFamily["cloud"],
    ) => {
      if (series.length) {
        out.push({ name, help, type: "gauge", series, ...(cloud ? { cloud } : {}) });
      }
    };
    const counter = (
      name: string,
      help: string,
      series: Series[],
      cloud: MetricFamily["cloud"],
    ) => {
      if (series.length) {
        out.push({ name, help, type: "counter", series, ...(cloud ? { cloud } : {}) });
      }
    };
    if (g.cpu) {
      const now = this.#system ? this.#sys("cpus", systemCpu) : (() => {
        const text = this.#read("/proc/stat");
        return text === undefined ? undefined : parseStat(text);
      })();
      if (now !== undefined) {
        const series: Series[] = [];
        for (const [name, [busy, total]] of now) {
          const core = name === "cpu" ? "all" : name.slice(3);
          if (core !== "all" && !g.perCore) continue;
          const prev = this.#cpuPrev.get(name);
          if (!prev || total <= prev[1]) continue;
          const pct = Math.min(100, Math.max(0, (busy - prev[0]) / (total - prev[1]) * 100));
          series.push({ labels: { cpu: core }, value: Math.round(pct * 100) / 100 });
        }
        this.#cpuPrev = now;
        gauge("tern_os_cpu_utilization_percent", "CPU busy time since the last reading", series, {
          name: "CpuUtilization",
          unit: "Percent",
          dimensions: (l): Record<string, string> => l.cpu === "all" ? {} : { Core: l.cpu! },
        });
      }
    }
    if (g.load) {
      const l = this.#system
        ? this.#sys("loadavg", () => Deno.loadavg() as [number, number, number])
        : parseLoadavg(this.#read("/proc/loadavg") ?? "");
      if (l) {
        gauge(
          "tern_os_load_average",
          "Load average",
          ["1m", "5m", "15m"].map((period, i) => ({ labels: { period }, value: l[i]! })),
          { name: "LoadAverage", unit: "None", dimensions: (x) => ({ Period: x.period! }) },
        );
      }
    }
    if (g.memory) {
      const m = this.#system
        ? this.#sys("systemMemoryInfo", systemMemory) ?? new Map<string, number>()
        : parseMeminfo(this.#read("/proc/meminfo") ?? "");
      const total = m.get("MemTotal");
      const avail = m.get("MemAvailable") ?? m.get("MemFree");
      if (total && avail !== undefined) {
        gauge("tern_os_memory_used_percent", "Memory in use (total − available)", [{
          value: Math.round((total - avail) / total * 10000) / 100,
        }], { name: "MemoryUtilization", unit: "Percent" });
        gauge("tern_os_memory_available_bytes", "Memory available", [{ value: avail }], {
          name: "MemoryAvailable",
          unit: "Bytes",
        });
        gauge("tern_os_memory_total_bytes", "Memory in total", [{ value: total }]);
      }
      const st = m.get("SwapTotal");
      const sf = m.get("SwapFree");
      if (st !== undefined && sf !== undefined) {
        gauge("tern_os_swap_used_bytes", "Swap in use", [{ value: st - sf }], {
          name: "SwapUsed",
          unit: "Bytes",
        });
        gauge("tern_os_swap_total_bytes", "Swap in total", [{ value: st }]);
      }
    }
    if (g.disk && this.#paths.length) {
      // Mount points from mountinfo where it can be read (fixtures); else the path names its file system.
      const info = this.#system && this.#root === ""
        ? undefined
        : this.#read("/proc/self/mountinfo");
      const mounts = info === undefined ? undefined : parseMountinfo(info);
      const devs = new Set<number>();
      const used: Series[] = [];
      const free: Series[] = [];
      const seen = new Set<string>();
      for (const p of this.#paths) {
        const mount = mounts ? mountOf(p, mounts) : p;
        if (seen.has(mount)) continue;
        try {
          if (!mounts) {
            const dev = statSync(p).dev;
            if (devs.has(dev)) continue; // the same file system as a path before
            devs.add(dev);
          }
          const s = this.#statfs(p);
          seen.add(mount);
          const size = s.blocks * s.bsize;
          const avail = s.bavail * s.bsize;
          const usedBytes = (s.blocks - s.bfree) * s.bsize;
          // Like df: used / (used + available to unprivileged users).
          const pct = usedBytes + avail > 0 ? usedBytes / (usedBytes + avail) * 100 : 0;
          if (size <= 0) continue;
          used.push({ labels: { mount }, value: Math.round(pct * 100) / 100 });
          free.push({ labels: { mount }, value: avail });
          this.problems.delete(`statfs ${p}`);
        } catch (e) {
          this.problems.set(`statfs ${p}`, e instanceof Error ? e.message : String(e));
        }
      }
      const dims = (l: Record<string, string>) => ({ Mount: l.mount! });
      gauge("tern_os_disk_used_percent", "File system space in use", used, {
        name: "DiskUtilization",
        unit: "Percent",
        dimensions: dims,
      });
      gauge("tern_os_disk_free_bytes", "File system space available", free, {
        name: "DiskFree",
        unit: "Bytes",
        dimensions: dims,
      });
    }
    if (g.diskIo && !this.#refused.has("diskIo")) {
      const stats = parseDiskstats(this.#read("/proc/diskstats", "diskIo") ?? "");
      const disks = stats.size ? this.#wholeDisks() : new Set<string>();
      const read: Series[] = [];
      const written: Series[] = [];
      for (const [disk, v] of stats) {
        if (!disks.has(disk)) continue;
        read.push({ labels: { disk }, value: v.read });
        written.push({ labels: { disk }, value: v.written });
      }
      const dims = (l: Record<string, string>) => ({ Disk: l.disk! });
      counter("tern_os_disk_read_bytes_total", "Bytes read from the disk", read, {
        name: "DiskReadBytes",
        unit: "Bytes",
        dimensions: dims,
      });
      counter("tern_os_disk_written_bytes_total", "Bytes written to the disk", written, {
        name: "DiskWriteBytes",
        unit: "Bytes",
        dimensions: dims,
      });
    }
    if (g.network && !this.#refused.has("network")) {
      const net = parseNetDev(this.#read("/proc/net/dev", "network") ?? "");
      const rx: Series[] = [];
      const tx: Series[] = [];
      const errs: Series[] = [];
      for (const [iface, v] of net) {
        if (iface === "lo") continue;
        const labels = { interface: iface };
        rx.push({ labels, value: v.rx });
        tx.push({ labels, value: v.tx });
        errs.push({ labels, value: v.rxErrors + v.txErrors });
      }
      const dims = (l: Record<string, string>) => ({ Interface: l.interface! });
      counter("tern_os_network_receive_bytes_total", "Bytes received", rx, {
        name: "NetworkIn",
        unit: "Bytes",
        dimensions: dims,
      });
      counter("tern_os_network_transmit_bytes_total", "Bytes sent", tx, {
        name: "NetworkOut",
        unit: "Bytes",
        dimensions: dims,
      });
      counter("tern_os_network_errors_total", "Receive and transmit errors", errs, {
        name: "NetworkErrors",
        unit: "Count",
        dimensions: dims,
      });
    }
    if (g.temperature && !this.#refused.has("temperature")) {
      gauge("tern_os_temperature_celsius", "Thermal zone temperature", this.#temperatures(), {
        name: "Temperature",
        unit: "None",
        dimensions: (l) => ({ Zone: l.zone! }),
      });
    }
    if (g.uptime) {
      const u = this.#system
        ? this.#sys("osUptime", () => Deno.osUptime())
        : parseUptime(this.#read("/proc/uptime") ?? "");
      if (u !== undefined) {
        gauge("tern_os_uptime_seconds", "Seconds since boot", [{ value: Math.floor(u) }], {
          name: "Uptime",
          unit: "Seconds",
        });
      }
    }
    this.#families = out;
  }

  /** Whole disks (`/sys/block`), without loop and ram devices. */
  #wholeDisks(): Set<string> {
    const out = new Set<string>();
    try {
      for (const e of Deno.readDirSync(this.#root + "/sys/block")) {
        if (!/^(loop|ram|zram)\d/.test(e.name)) out.add(e.name);
      }
      this.problems.delete("/sys/block");
    } catch (e) {
      this.problems.set("/sys/block", e instanceof Error ? e.message : String(e));
    }
    return out;
  }

  #temperatures(): Series[] {
    const out: Series[] = [];
    const dir = "/sys/class/thermal";
    let names: string[];
    try {
      names = [...Deno.readDirSync(this.#root + dir)].map((e) => e.name)
        .filter((n) => n.startsWith("thermal_zone")).sort();
    } catch (e) {
      if ((e as { name?: string })?.name === "NotCapable") {
        this.#refused.add("temperature");
        this.problems.set(
          "temperature",
          `off: Deno reads ${dir} only with --allow-all, which Tern does not ask for`,
        );
      }
      return out; // or no thermal zones (a VM, a container)
    }
    const used = new Set<string>();
    for (const n of names) {
      const t = Number(this.#read(`${dir}/${n}/temp`, "temperature")?.trim());
      if (!Number.isFinite(t)) continue;
      let zone = this.#read(`${dir}/${n}/type`)?.trim() || n;
      if (used.has(zone)) zone = `${zone}-${n.slice(12)}`;
      used.add(zone);
      out.push({ labels: { zone }, value: t / 1000 });
    }
    return out;
  }
}
