/**
 * Log events as the spool holds them, and PutLogEvents batches cut from them
 * within every limit AWS documents for PutLogEvents:
 *
 * - a batch is at most 1,048,576 bytes, counted as the UTF-8 bytes of every
 *   message plus 26 bytes per event, and at most 10,000 events;
 * - its events are in chronological order and span at most 24 hours;
 * - one event is at most 256 KB (262,144 bytes with its 26): longer messages
 *   are split when they are written, each part starting `[part i/n] `;
 * - events older than 14 days or more than 2 hours in the future are refused
 *   by the service (`rejectedLogEventsInfo`): they are counted and dropped
 *   here before sending, as the service would.
 *
 * Spool record format: `key` is `GROUP\nSTREAM` (names cannot hold a
 * newline; `eventKey`), `data` the message, `time` the event's timestamp in
 * ms since the epoch. The spool stores a chunk's key once, not per line.
 * Records without a key (written by older versions, and by the metrics and
 * audit streams) carry their destination in `data`: `GROUP\nSTREAM\nMESSAGE`.
 */

import { type NewRecord, type SpoolRecord, utf8Length } from "../spool.ts";

/** Bytes AWS counts per event on top of its message. */
export const EVENT_OVERHEAD = 26;
/** Largest batch, bytes (messages + 26 per event). */
export const MAX_BATCH_BYTES = 1_048_576;
/** Most events per batch. */
export const MAX_BATCH_EVENTS = 10_000;
/** Largest event, bytes, counting its 26. */
export const MAX_EVENT_BYTES = 262_144;
/** Largest message of one event, bytes. */
export const MAX_MESSAGE_BYTES = MAX_EVENT_BYTES - EVENT_OVERHEAD;
/** Longest time a batch may span, ms. */
export const MAX_SPAN_MS = 24 * 3_600_000;
/** Oldest event accepted: this long before now, ms. */
export const MAX_AGE_MS = 14 * 86_400_000;
/** Newest event accepted: this long after now, ms. */
export const MAX_AHEAD_MS = 2 * 3_600_000;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** One event ready for PutLogEvents. */
export interface LogEvent {
  timestamp: number;
  message: string;
}

/** The spool `key` of events for `group`/`stream`. */
export function eventKey(group: string, stream: string): string {
  return `${group}\n${stream}`;
}

/** The spool record of an event for `group`/`stream`. */
export function eventRecord(
  group: string,
  stream: string,
  message: string,
  time: number,
): NewRecord {
  return { time, key: eventKey(group, stream), data: message };
}

/** The spool `data` of an event for `group`/`stream` in a record without a key. */
export function encodeEvent(group: string, stream: string, message: string): string {
  return `${group}\n${stream}\n${message}`;
}

/** Split the `data` of a record without a key back into its destination and message. */
export function decodeEvent(data: string): { group: string; stream: string; message: string } {
  const a = data.indexOf("\n");
  const b = data.indexOf("\n", a + 1);
  if (a < 0 || b < 0) return { group: "", stream: "", message: data };
  return { group: data.slice(0, a), stream: data.slice(a + 1, b), message: data.slice(b + 1) };
}

/** A spool record's destination and message (from its key, or from its data when it has none). */
export function decodeRecord(
  r: { key?: string; data: string },
): { group: string; stream: string; message: string } {
  if (r.key === undefined) return decodeEvent(r.data);
  const a = r.key.indexOf("\n");
  return { group: r.key.slice(0, a), stream: r.key.slice(a + 1), message: r.data };
}

/**
 * A message as one or more event messages of at most `max` UTF-8 bytes each;
 * parts of a longer one start with `[part i/n] ` (cut on character boundaries).
 */
export function splitMessage(message: string, max = MAX_MESSAGE_BYTES): string[] {
  if (message.length * 3 <= max) return [message]; // a UTF-16 unit is at most 3 UTF-8 bytes
  const bytes = enc.encode(message);
  if (bytes.length <= max) return [message];
  const room = max - 24; // "[part 99999/99999] " fits
  const parts: string[] = [];
  let at = 0;
  while (at < bytes.length) {
    let end = Math.min(at + room, bytes.length);
    while (end < bytes.length && (bytes[end]! & 0xc0) === 0x80) end--; // not inside a character
    parts.push(dec.decode(bytes.subarray(at, end)));
    at = end;
  }
  return parts.map((p, i) => `[part ${i + 1}/${parts.length}] ${p}`);
}

/** Options of {@linkcode cutBatch}. */
export interface CutOptions {
  /** Now, ms since the epoch (the limits on age are relative to it). */
  now: number;
  /** @default MAX_BATCH_EVENTS */
  maxEvents?: number;
  /** @default MAX_BATCH_BYTES */
  maxBytes?: number;
}

/** A batch for one log stream. */
export interface Batch {
  group: string;
  stream: string;
  /** Sorted by timestamp (stable). */
  events: LogEvent[];
  /** Bytes as AWS counts them. */
  bytes: number;
  /** Last spool id the batch covers (including dropped records). */
  upTo: number;
  /** Records of the range dropped before sending: too old, too new, empty. */
  tooOld: number;
  tooNew: number;
  empty: number;
  /** True when a limit (not the end of the records given) ended the batch. */
  full: boolean;
}

/**
 * The longest prefix of `records` (in spool order) that is one PutLogEvents
 * call: one destination, within the count, byte and 24-hour limits. Records
 * the service would refuse are counted and covered by `upTo`, not sent.
 * Returns undefined for no records.
 */
export function cutBatch(records: SpoolRecord[], options: CutOptions): Batch | undefined {
  if (records.length === 0) return undefined;
  const maxEvents = options.maxEvents ?? MAX_BATCH_EVENTS;
  const maxBytes = options.maxBytes ?? MAX_BATCH_BYTES;
  const oldest = options.now - MAX_AGE_MS;
  const newest = options.now + MAX_AHEAD_MS;
  const first = decodeRecord(records[0]!);
  // Records with a key hold the message as their data; without, after the destination.
  const key = records[0]!.key;
  const batch: Batch = {
    group: first.group,
    stream: first.stream,
    events: [],
    bytes: 0,
    upTo: 0,
    tooOld: 0,
    tooNew: 0,
    empty: 0,
    full: false,
  };
  const prefix = key === undefined ? `${first.group}\n${first.stream}\n` : "";
  const prefixBytes = utf8Length(prefix);
  let min = Infinity;
  let max = -Infinity;
  let sorted = true;
  for (const r of records) {
    if (r.key !== key || !r.data.startsWith(prefix)) {
      batch.full = true; // another destination: its own batch
      break;
    }
    const message = prefix ? r.data.slice(prefix.length) : r.data;
    const t = r.time;
    if (message.length === 0) {
      batch.empty++;
    } else if (t < oldest) {
      batch.tooOld++;
    } else if (t > newest) {
      batch.tooNew++;
    } else {
      const size = r.bytes - prefixBytes + EVENT_OVERHEAD;
      if (
        batch.events.length > 0 && (batch.events.length >= maxEvents ||
          batch.bytes + size > maxBytes || Math.max(max, t) - Math.min(min, t) > MAX_SPAN_MS)
      ) {
        batch.full = true;
        break;
      }
      if (t < max) sorted = false;
      min = Math.min(min, t);
      max = Math.max(max, t);
      batch.bytes += size;
      batch.events.push({ timestamp: t, message });
    }
    batch.upTo = r.id;
  }
  if (!sorted) batch.events.sort((a, b) => a.timestamp - b.timestamp);
  return batch;
}

/** Refused events in a PutLogEvents answer's `rejectedLogEventsInfo` for `n` events. */
export function rejectedCount(info: unknown, n: number): number {
  if (!info || typeof info !== "object") return 0;
  const i = info as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === "number" && Number.isInteger(v) ? v : undefined);
  const oldEnd = Math.max(
    num(i.tooOldLogEventEndIndex) ?? -1,
    num(i.expiredLogEventEndIndex) ?? -1,
  );
  const newStart = num(i.tooNewLogEventStartIndex);
  let refused = oldEnd + 1;
  if (newStart !== undefined && newStart < n) refused += n - Math.max(newStart, oldEnd + 1);
  return Math.min(refused, n);
}

/** UTF-8 byte length, without encoding. */
export { utf8Length };
