/**
 * Parsers of the Linux `/proc` files the OS collector reads (formats of
 * proc(5) and the kernel's Documentation/admin-guide/iostats.rst). Each takes
 * the file's text and returns plain numbers; a line it does not understand is
 * skipped. Units: jiffies for CPU times, bytes for everything else.
 */

/** `/proc/stat` cpu lines: name ("cpu", "cpu0"…) → [busy, total] jiffies. */
export function parseStat(text: string): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("cpu")) continue;
    const f = line.trim().split(/\s+/);
    const name = f[0]!;
    // user nice system idle iowait irq softirq steal (guest* are inside user/nice)
    const v = f.slice(1, 9).map(Number);
    if (v.length < 4 || v.some((n) => !Number.isFinite(n))) continue;
    const total = v.reduce((a, b) => a + b, 0);
    const idle = v[3]! + (v[4] ?? 0);
    out.set(name, [total - idle, total]);
  }
  return out;
}

/** `/proc/loadavg`: the 1, 5 and 15 minute load averages. */
export function parseLoadavg(text: string): [number, number, number] | undefined {
  const f = text.trim().split(/\s+/).slice(0, 3).map(Number);
  return f.length === 3 && f.every(Number.isFinite) ? [f[0]!, f[1]!, f[2]!] : undefined;
}

/** `/proc/meminfo`: key → bytes (the file's kB × 1024). */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)(?:\s+kB)?/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]) * (line.includes("kB") ? 1024 : 1));
  }
  return out;
}

/** `/proc/diskstats`: device → bytes read and written (sectors of 512 bytes). */
export function parseDiskstats(text: string): Map<string, { read: number; written: number }> {
  const out = new Map<string, { read: number; written: number }>();
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const read = Number(f[5]);
    const written = Number(f[9]);
    if (Number.isFinite(read) && Number.isFinite(written)) {
      out.set(f[2]!, { read: read * 512, written: written * 512 });
    }
  }
  return out;
}

/** `/proc/net/dev`: interface → bytes and errors received and sent. */
export function parseNetDev(
  text: string,
): Map<string, { rx: number; tx: number; rxErrors: number; txErrors: number }> {
  const out = new Map<string, { rx: number; tx: number; rxErrors: number; txErrors: number }>();
  for (const line of text.split("\n")) {
    const at = line.indexOf(":");
    if (at < 0 || line.includes("|")) continue;
    const name = line.slice(0, at).trim();
    const f = line.slice(at + 1).trim().split(/\s+/).map(Number);
    if (f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    out.set(name, { rx: f[0]!, rxErrors: f[2]!, tx: f[8]!, txErrors: f[10]! });
  }
  return out;
}

/** `/proc/uptime`: seconds since boot. */
export function parseUptime(text: string): number | undefined {
  const v = Number(text.trim().split(/\s+/)[0]);
  return Number.isFinite(v) ? v : undefined;
}

/** `/proc/self/mountinfo`: the mount points (field 5), with `\040`-style escapes decoded. */
export function parseMountinfo(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    if (f.length < 5) continue;
    out.push(f[4]!.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

/** The mount point holding `path`: the longest mount point that is `path` or a parent of it. */
export function mountOf(path: string, mounts: readonly string[]): string {
  let best = "/";
  for (const m of mounts) {
    const inside = m === "/" || path === m || path.startsWith(m.endsWith("/") ? m : m + "/");
    if (inside && m.length > best.length) best = m;
  }
  return best;
}
