/**
 * The OS collector on real files: recorded Raspberry Pi 4 fixtures
 * (tests/fixtures/rpi4, written from the documented formats) with known
 * figures, and this machine's own /proc and /sys.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type MetricFamily, renderPrometheus } from "../lib/metrics/mod.ts";
import { OsCollector } from "../lib/metrics/os.ts";

const FIXTURE = new URL("./fixtures/rpi4/", import.meta.url).pathname;

/** family name → labels JSON → value */
function values(families: MetricFamily[]): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const f of families) {
    if (f.type === "histogram") continue;
    out.set(f.name, new Map(f.series.map((s) => [JSON.stringify(s.labels ?? {}), s.value])));
  }
  return out;
}

async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyDir(join(from, e.name), join(to, e.name));
    else await Deno.copyFile(join(from, e.name), join(to, e.name));
  }
}

Deno.test("the Raspberry Pi 4 fixtures give the documented figures", async () => {
  const root = await Deno.makeTempDir({ prefix: "tern_os_" });
  try {
    await copyDir(FIXTURE, root);
    const statfs = (p: string) => {
      // The SD card's root: 29.7 GiB, 7 GiB used, 21 GiB available to users (5 % reserved).
      if (p === "/var/lib/tern") {
        return { blocks: 7_786_000, bfree: 5_950_000, bavail: 5_560_000, bsize: 4096 };
      }
      if (p === "/mnt/usb disk/data") return { blocks: 1000, bfree: 250, bavail: 250, bsize: 4096 };
      throw new Error(`ENOENT ${p}`);
    };
    const os = new OsCollector({
      root,
      diskPaths: ["/missing", "/var/lib/tern", "/etc/tern", "/mnt/usb disk/data"],
      statfs,
    });
    os.update();
    let v = values(os.families());
    assert.equal(
      v.get("tern_os_cpu_utilization_percent"),
      undefined,
      "no CPU figure from one reading",
    );
    await Deno.rename(join(root, "proc/stat.next"), join(root, "proc/stat"));
    os.update();
    v = values(os.families());
    const cpu = v.get("tern_os_cpu_utilization_percent")!;
    assert.equal(cpu.get('{"cpu":"all"}'), 37.5);
    assert.equal(cpu.get('{"cpu":"0"}'), 100);
    assert.equal(cpu.get('{"cpu":"1"}'), 50);
    assert.equal(cpu.get('{"cpu":"2"}'), 0);
    assert.deepEqual([...v.get("tern_os_load_average")!.values()], [0.52, 0.58, 0.59]);
    assert.equal(v.get("tern_os_memory_total_bytes")!.get("{}"), 3_882_924 * 1024);
    assert.equal(v.get("tern_os_memory_available_bytes")!.get("{}"), 3_366_500 * 1024);
    assert.equal(
      v.get("tern_os_memory_used_percent")!.get("{}"),
      Math.round((3_882_924 - 3_366_500) / 3_882_924 * 10000) / 100,
    );
    assert.equal(v.get("tern_os_swap_used_bytes")!.get("{}"), (102_396 - 81_916) * 1024);
    // Disk usage: one series per mount ("/etc/tern" is on "/" too: not twice), like df.
    const used = v.get("tern_os_disk_used_percent")!;
    assert.deepEqual([...used.keys()], ['{"mount":"/"}', '{"mount":"/mnt/usb disk"}']);
    const u = (7_786_000 - 5_950_000) / (7_786_000 - 5_950_000 + 5_560_000) * 100;
    assert.equal(used.get('{"mount":"/"}'), Math.round(u * 100) / 100);
    assert.equal(v.get("tern_os_disk_free_bytes")!.get('{"mount":"/"}'), 5_560_000 * 4096);
    assert.match(os.problems.get("statfs /missing") ?? "", /ENOENT/);
    // Disk I/O: whole disks only (no partitions, loop or ram devices), sectors of 512 bytes.
    const read = v.get("tern_os_disk_read_bytes_total")!;
    assert.deepEqual([...read.keys()].sort(), ['{"disk":"mmcblk0"}', '{"disk":"sda"}']);
    assert.equal(read.get('{"disk":"mmcblk0"}'), 1_048_576 * 512);
    assert.equal(
      v.get("tern_os_disk_written_bytes_total")!.get('{"disk":"mmcblk0"}'),
      2_097_152 * 512,
    );
    // Network: lo left out; errors are receive + transmit.
    const rx = v.get("tern_os_network_receive_bytes_total")!;
    assert.deepEqual([...rx.keys()], ['{"interface":"eth0"}', '{"interface":"wlan0"}']);
    assert.equal(rx.get('{"interface":"eth0"}'), 123_456_789);
    assert.equal(
      v.get("tern_os_network_transmit_bytes_total")!.get('{"interface":"wlan0"}'),
      666_666,
    );
    assert.equal(v.get("tern_os_network_errors_total")!.get('{"interface":"eth0"}'), 3);
    assert.equal(v.get("tern_os_network_errors_total")!.get('{"interface":"wlan0"}'), 4);
    // The SoC's thermal zone, in °C; the cooling device is not a zone.
    assert.deepEqual([...v.get("tern_os_temperature_celsius")!], [[
      '{"zone":"cpu-thermal"}',
      48.312,
    ]]);
    assert.equal(v.get("tern_os_uptime_seconds")!.get("{}"), 86_400);
    // What goes to CloudWatch, by name and unit (totals stay local).
    assert.deepEqual(
      os.families().filter((f) => f.cloud).map((f) => `${f.cloud!.name} ${f.cloud!.unit}`),
      [
        "CpuUtilization Percent",
        "LoadAverage None",
        "MemoryUtilization Percent",
        "MemoryAvailable Bytes",
        "SwapUsed Bytes",
        "DiskUtilization Percent",
        "DiskFree Bytes",
        "DiskReadBytes Bytes",
        "DiskWriteBytes Bytes",
        "NetworkIn Bytes",
        "NetworkOut Bytes",
        "NetworkErrors Count",
        "Temperature None",
        "Uptime Seconds",
      ],
    );
    const text = renderPrometheus(os.families());
    assert.match(text, /^tern_os_temperature_celsius\{zone="cpu-thermal"\} 48.312$/m);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("groups switched off are not read", async () => {
  const root = await Deno.makeTempDir({ prefix: "tern_os_" });
  try {
    await copyDir(FIXTURE, root);
    const os = new OsCollector({
      root,
      groups: { cpu: false, network: false, temperature: false, diskIo: false, disk: false },
    });
    os.update();
    const names = os.families().map((f) => f.name).sort();
    assert.deepEqual(names, [
      "tern_os_load_average",
      "tern_os_memory_available_bytes",
      "tern_os_memory_total_bytes",
      "tern_os_memory_used_percent",
      "tern_os_swap_total_bytes",
      "tern_os_swap_used_bytes",
      "tern_os_uptime_seconds",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("this machine's /proc and /sys parse into sane figures", async () => {
  const os = new OsCollector({ diskPaths: [Deno.cwd()] });
  os.update();
  await new Promise((r) => setTimeout(r, 200));
  os.update();
  const v = values(os.families());
  const cores = navigator.hardwareConcurrency;
  const cpu = v.get("tern_os_cpu_utilization_percent");
  assert.ok(cpu, "CPU read");
  for (const x of cpu.values()) assert.ok(x >= 0 && x <= 100, `CPU ${x}`);
  assert.ok(cpu.size >= 2 && cpu.size <= cores + 1, `total and per core (${cpu.size})`);
  const mem = v.get("tern_os_memory_total_bytes")!.get("{}")!;
  assert.ok(mem > 64 * 1024 * 1024, `memory ${mem}`);
  const pct = v.get("tern_os_memory_used_percent")!.get("{}")!;
  assert.ok(pct > 0 && pct < 100);
  assert.equal(v.get("tern_os_load_average")!.size, 3);
  const disk = v.get("tern_os_disk_used_percent")!;
  assert.equal(disk.size, 1);
  for (const x of disk.values()) assert.ok(x > 0 && x <= 100);
  assert.ok(v.get("tern_os_uptime_seconds")!.get("{}")! > 0);
  assert.ok(
    (v.get("tern_os_network_receive_bytes_total")?.size ?? 0) >= 1,
    "an interface besides lo",
  );
  assert.equal(os.problems.size, 0, JSON.stringify([...os.problems]));
});

Deno.test("with a files root (bind mounts of /proc and /sys), the file groups read there, CPU and memory from the runtime", async () => {
  const root = await Deno.makeTempDir({ prefix: "tern_os_" });
  try {
    await copyDir(FIXTURE, root); // stands for the bind mounts: the same paths under a root
    const os = new OsCollector({ root, source: "system", diskPaths: [Deno.cwd()] });
    os.update();
    await new Promise((r) => setTimeout(r, 100));
    os.update();
    const v = values(os.families());
    // From the files under the root: the Pi's interfaces and thermal zone.
    assert.deepEqual([...v.get("tern_os_network_receive_bytes_total")!.keys()], [
      '{"interface":"eth0"}',
      '{"interface":"wlan0"}',
    ]);
    assert.deepEqual([...v.get("tern_os_temperature_celsius")!], [[
      '{"zone":"cpu-thermal"}',
      48.312,
    ]]);
    assert.ok(v.get("tern_os_disk_read_bytes_total")!.has('{"disk":"mmcblk0"}'));
    // From the runtime: this machine's cores and memory, not the fixture's.
    assert.equal(v.get("tern_os_cpu_utilization_percent")!.size, navigator.hardwareConcurrency + 1);
    assert.equal(v.get("tern_os_memory_total_bytes")!.get("{}"), Deno.systemMemoryInfo().total);
    // The mount point from the root's mountinfo (the fixture's: the cwd lies on "/").
    assert.deepEqual([...v.get("tern_os_disk_used_percent")!.keys()], ['{"mount":"/"}']);
    assert.equal(os.problems.size, 0, JSON.stringify([...os.problems]));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
