/**
 * The timestamp a log line carries, so each event keeps its own time rather
 * than the time it was read. Recognised at the start of a line:
 * - ISO 8601 / RFC 3339: `2026-01-02T03:04:05.678Z`, `2026-01-02 03:04:05,678+01:00`,
 *   optionally in brackets; without a zone it is local time;
 * - RFC 5424 syslog: `<34>1 2026-01-02T03:04:05Z …`;
 * - RFC 3164 syslog: `Jan  2 03:04:05` (local time, this year — or last
 *   year when that would be more than a day ahead);
 * - a JSON line with `time`, `timestamp`, `ts` or `@timestamp` (ISO text, or
 *   a number: ms, or s when below 1e11).
 * Returns undefined when none is found.
 */

const ISO = /^\[?(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?/;
const RFC5424 = /^<\d{1,3}>\d{1,2} (\S+)/;
const RFC3164 =
  /^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})/;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * The last whole second parsed (date, time and zone as written) and its ms:
 * lines of one file share their second hundreds of times, so `Date.parse`
 * runs once per second of log, not once per line.
 */
let _lastDate = "";
let _lastTime = "";
let _lastZone = "";
let _lastMs = NaN;

function iso(m: RegExpExecArray): number | undefined {
  const date = m[1]!;
  const time = m[2]!;
  const written = m[4] ?? "";
  if (date !== _lastDate || time !== _lastTime || written !== _lastZone) {
    let zone = written;
    if (zone && zone !== "Z" && !zone.includes(":")) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
    _lastDate = date;
    _lastTime = time;
    _lastZone = written;
    _lastMs = Date.parse(`${date}T${time}${zone}`);
  }
  if (Number.isNaN(_lastMs)) return undefined;
  const f = m[3];
  if (f === undefined) return _lastMs;
  // Milliseconds of the fraction: its first three digits ("5" is 500, "123456" is 123).
  const ms = f.length >= 3 ? +f.slice(0, 3) : f.length === 2 ? +f * 10 : +f * 100;
  return _lastMs + ms;
}

/** The time written at the start of `line`, ms since the epoch. */
export function lineTime(line: string, now: number): number | undefined {
  const c = line.charCodeAt(0);
  if (c >= 48 && c <= 57 || c === 91) { // digit or "["
    const m = ISO.exec(line);
    return m ? iso(m) : undefined;
  }
  if (c === 60) { // "<"
    const m = RFC5424.exec(line);
    const i = m ? ISO.exec(m[1]!) : null;
    return i ? iso(i) : undefined;
  }
  if (c === 123) return _jsonTime(line); // "{"
  const m = RFC3164.exec(line);
  if (!m) return undefined;
  const year = new Date(now).getFullYear();
  const at = (y: number) =>
    new Date(y, MONTHS.indexOf(m[1]!), +m[2]!, +m[3]!, +m[4]!, +m[5]!).getTime();
  const t = at(year);
  return t > now + 86_400_000 ? at(year - 1) : t;
}

function _jsonTime(line: string): number | undefined {
  let v: unknown;
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    v = o.time ?? o.timestamp ?? o.ts ?? o["@timestamp"];
  } catch {
    return undefined;
  }
  if (typeof v === "number" && Number.isFinite(v)) return v < 1e11 ? Math.round(v * 1000) : v;
  if (typeof v === "string") {
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}
