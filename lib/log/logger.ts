/**
 * The logger. One `LogHub` per agent owns the sinks, the level settings and
 * the redactor; `hub.logger("web")` hands out cheap per-source loggers and
 * `logger.child("access")` makes the source "web.access".
 *
 * Levels: debug < info < warn < error; `off` silences a source. Per-source
 * levels match the longest configured prefix: `{ "mqtt": "debug" }` applies to
 * "mqtt" and "mqtt.queue".
 */

import { type Level, LEVEL_RANK, type LogRecord } from "./record.ts";
import { Redactor } from "./redact.ts";
import type { Sink } from "./sinks.ts";

/** What every subsystem logs through. */
export interface Logger {
  readonly source: string;
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger for a sub-source ("web" → "web.access"). */
  child(name: string): Logger;
  /** True when `level` would be written for this source. */
  enabled(level: Exclude<Level, "off">): boolean;
}

/** Options of {@linkcode LogHub}. */
export interface LogHubOptions {
  /** Default level. @default "info" */
  level?: Level;
  /** Per-source levels by source prefix. @default {} */
  sources?: Record<string, Level>;
  sinks?: Sink[];
  /** Time source. @default Date.now */
  now?: () => number;
}

export class LogHub {
  readonly redactor = new Redactor();
  #level: Level;
  #sources: [string, Level][] = [];
  #sinks: Sink[];
  #now: () => number;
  #cache = new Map<string, number>();

  constructor(options: LogHubOptions = {}) {
    this.#level = options.level ?? "info";
    this.#sinks = [...(options.sinks ?? [])];
    this.#now = options.now ?? Date.now;
    this.setLevels(this.#level, options.sources ?? {});
  }

  /** Change levels live (SIGHUP). */
  setLevels(level: Level, sources: Record<string, Level> = {}): void {
    this.#level = level;
    this.#sources = Object.entries(sources).sort((a, b) => b[0].length - a[0].length);
    this.#cache.clear();
  }

  addSink(sink: Sink): void {
    this.#sinks.push(sink);
  }

  removeSink(sink: Sink): void {
    this.#sinks = this.#sinks.filter((s) => s !== sink);
  }

  /** Minimum rank written for `source`. */
  threshold(source: string): number {
    let rank = this.#cache.get(source);
    if (rank === undefined) {
      const hit = this.#sources.find(([p]) => source === p || source.startsWith(p + "."));
      rank = LEVEL_RANK[hit ? hit[1] : this.#level];
      this.#cache.set(source, rank);
    }
    return rank;
  }

  /** Redact and write one record to every sink; a failing sink never throws to the caller. */
  emit(
    level: Exclude<Level, "off">,
    source: string,
    msg: string,
    fields?: Record<string, unknown>,
  ): void {
    if (LEVEL_RANK[level] < this.threshold(source)) return;
    const record: LogRecord = { time: this.#now(), level, source, msg: this.redactor.text(msg) };
    if (fields && Object.keys(fields).length > 0) {
      record.fields = this.redactor.value(fields) as Record<string, unknown>;
    }
    for (const sink of this.#sinks) {
      try {
        sink.write(record);
      } catch {
        // A full disk must not take the agent down; the other sinks still get the line.
      }
    }
  }

  logger(source: string): Logger {
    return new _SourceLogger(this, source);
  }

  close(): void {
    for (const s of this.#sinks) s.close?.();
  }
}

class _SourceLogger implements Logger {
  constructor(readonly hub: LogHub, readonly source: string) {}
  debug(msg: string, fields?: Record<string, unknown>): void {
    this.hub.emit("debug", this.source, msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.hub.emit("info", this.source, msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.hub.emit("warn", this.source, msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.hub.emit("error", this.source, msg, fields);
  }
  child(name: string): Logger {
    return new _SourceLogger(this.hub, `${this.source}.${name}`);
  }
  enabled(level: Exclude<Level, "off">): boolean {
    return LEVEL_RANK[level] >= this.hub.threshold(this.source);
  }
}

/** A logger that drops everything (tests, library use without an agent). */
export const nullLogger: Logger = new LogHub({ level: "off" }).logger("null");
