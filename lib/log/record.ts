/**
 * The log record and its two renderings: human text for a terminal and JSON
 * lines for journald, files and the API. A JSON line looks like
 * `{"time":"2026-01-01T00:00:00.000Z","level":"info","source":"web","msg":"…",…fields}`.
 */

export const LEVELS = ["debug", "info", "warn", "error", "off"] as const;
export type Level = (typeof LEVELS)[number];

export const LEVEL_RANK: Record<Level, number> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
  off: 99,
};

/** One log entry, already redacted. */
export interface LogRecord {
  /** ms since epoch */
  time: number;
  level: Exclude<Level, "off">;
  source: string;
  msg: string;
  fields?: Record<string, unknown>;
}

/** `{"time",…}` JSON line without the trailing newline. */
export function toJsonLine(r: LogRecord): string {
  const out: Record<string, unknown> = {
    time: new Date(r.time).toISOString(),
    level: r.level,
    source: r.source,
    msg: r.msg,
  };
  if (r.fields) {
    for (const [k, v] of Object.entries(r.fields)) if (!(k in out)) out[k] = v;
  }
  return JSON.stringify(out);
}

const COLORS: Record<string, string> = {
  debug: "\x1b[90m",
  info: "\x1b[36m",
  warn: "\x1b[33m",
  error: "\x1b[31m",
};

/** `12:00:00.000 INFO  web: listening url=http://…` */
export function toText(r: LogRecord, color: boolean): string {
  const t = new Date(r.time).toISOString().slice(11, 23);
  const lvl = r.level.toUpperCase().padEnd(5);
  let line = `${t} ${color ? COLORS[r.level] + lvl + "\x1b[0m" : lvl} ${r.source}: ${r.msg}`;
  if (r.fields) {
    for (const [k, v] of Object.entries(r.fields)) {
      line += ` ${k}=${typeof v === "string" && !/\s/.test(v) ? v : JSON.stringify(v)}`;
    }
  }
  return line;
}
