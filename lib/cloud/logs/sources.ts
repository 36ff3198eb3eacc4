/**
 * The in-process log sources: the agent's own log (a `lib/log` sink with its
 * own level and per-source levels) and the device application's API
 * (`write(name, message | object)`). Both write to their spool stream at
 * once (a synchronous SQLite insert), so a record the process produced is on
 * disk before the call returns. Every message is redacted like the agent's
 * console lines (the agent's records arrive redacted; app messages are
 * redacted here: secret-named fields and every registered secret value).
 */

import { type Level, LEVEL_RANK } from "../../log/record.ts";
import { type LogRecord, type Redactor, type Sink, toJsonLine } from "../../log/mod.ts";
import type { NewRecord, SpoolStream } from "../spool.ts";
import { checkGroup, checkStream, expand, type NameValues, safePart } from "./_names.ts";
import { eventKey, MAX_MESSAGE_BYTES, splitMessage } from "./events.ts";

/** Where a source's events go. */
export interface Destination {
  group: string;
  stream: string;
  values: NameValues;
}

/** Events of one message for `dest` at `time`, split to fit CloudWatch's event size. */
export function toRecords(
  dest: Destination,
  message: string,
  time: number,
  values = dest.values,
): NewRecord[] {
  const out: NewRecord[] = [];
  pushRecords(out, dest, message, time, values);
  return out;
}

/** {@linkcode toRecords} appending to `out` (a source turning a chunk of lines into records). */
export function pushRecords(
  out: NewRecord[],
  dest: Destination,
  message: string,
  time: number,
  values = dest.values,
): void {
  const key = _names(dest, values, time).key;
  if (message.length * 3 <= MAX_MESSAGE_BYTES) out.push({ time, key, data: message }); // ≤ 3 bytes a unit: fits
  else for (const m of splitMessage(message)) out.push({ time, key, data: m });
}

/** The last names expanded per destination: one check per change of day, app name or file. */
interface _Names {
  /** Day number when a name has `{date}`, else -1. */
  day: number;
  name: string | undefined;
  file: string | undefined;
  /** `GROUP\nSTREAM`, the records' spool key (`eventKey`). */
  key: string;
}
const _cache = new WeakMap<Destination, _Names>();

function _names(dest: Destination, values: Destination["values"], time: number): _Names {
  const hit = _cache.get(dest);
  const dated = hit
    ? hit.day >= 0
    : dest.group.includes("{date}") || dest.stream.includes("{date}");
  const day = dated ? Math.floor(time / 86_400_000) : -1;
  if (hit && hit.day === day && hit.name === values.name && hit.file === values.file) return hit;
  const names: _Names = {
    day,
    name: values.name,
    file: values.file,
    key: eventKey(
      checkGroup(expand(dest.group, values, time)),
      checkStream(expand(dest.stream, values, time)),
    ),
  };
  _cache.set(dest, names);
  return names;
}

/** Options of {@linkcode AgentLogSink}. */
export interface AgentLogSinkOptions {
  spool: SpoolStream;
  dest: Destination;
  /** Lowest level sent. @default "info" */
  level?: Level;
  /** Per-source levels by prefix. @default {} */
  sources?: Record<string, Level>;
}

/** A `lib/log` sink that appends the agent's records (JSON lines) to a spool stream. */
export class AgentLogSink implements Sink {
  readonly #o: AgentLogSinkOptions;
  #rank: number;
  #sources: [string, number][];
  #busy = false;
  /** Records lost because the spool could not take them (a full disk). */
  failed = 0;

  constructor(options: AgentLogSinkOptions) {
    this.#o = options;
    this.#rank = LEVEL_RANK[options.level ?? "info"];
    this.#sources = Object.entries(options.sources ?? {})
      .sort((a, b) => b[0].length - a[0].length)
      .map(([k, v]) => [k, LEVEL_RANK[v]]);
  }

  write(r: LogRecord): void {
    if (this.#busy) return; // a record logged while appending (the spool's own warning): skip
    const hit = this.#sources.find(([p]) => r.source === p || r.source.startsWith(p + "."));
    if (LEVEL_RANK[r.level] < (hit ? hit[1] : this.#rank)) return;
    this.#busy = true;
    try {
      this.#o.spool.append(toRecords(this.#o.dest, toJsonLine(r), r.time));
    } catch {
      this.failed++; // the other sinks still have the line
    } finally {
      this.#busy = false;
    }
  }
}

/** Options of {@linkcode AppLogs}. */
export interface AppLogsOptions {
  spool: SpoolStream;
  dest: Destination;
  redactor: Redactor;
  now: () => number;
}

/** The device application's log API: `write("pump", "started")`, `write("pump", { rpm: 1200 })`. */
export class AppLogs {
  readonly #o: AppLogsOptions;

  constructor(options: AppLogsOptions) {
    this.#o = options;
  }

  /**
   * Store one event for the app stream `name` (letters, digits, _ . -; 1 to
   * 128), durable when this returns. An object is sent as a JSON line.
   * `time` is the event's own time (ms since the epoch). @default now
   */
  write(name: string, message: string | Record<string, unknown>, options: { time?: number } = {}) {
    if (typeof name !== "string" || !/^[A-Za-z0-9_.-]{1,128}$/.test(name)) {
      throw new TypeError(
        `App log stream name ${
          JSON.stringify(name)
        } is not valid (1 to 128 of letters, digits and _ . -)`,
      );
    }
    let text: string;
    if (typeof message === "string") text = this.#o.redactor.text(message);
    else if (message !== null && typeof message === "object" && !Array.isArray(message)) {
      text = JSON.stringify(this.#o.redactor.value(message));
    } else throw new TypeError("An app log message must be a string or an object");
    if (text.length === 0) throw new TypeError("An app log message must not be empty");
    const time = options.time ?? this.#o.now();
    if (!Number.isFinite(time)) throw new TypeError(`Bad event time ${time}`);
    const values = { ...this.#o.dest.values, name: safePart(name) };
    this.#o.spool.append(toRecords(this.#o.dest, text, time, values));
  }
}
