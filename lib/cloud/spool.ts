/**
 * The spool: the one durable store-and-forward queue every cloud stream
 * (CloudWatch Logs, metrics, audit events, uploads) uses. A stream is a named,
 * bounded queue of records in the agent's SQLite file:
 *
 * - `append(records)` commits them (inside the caller's `db.transaction()`
 *   when there is one, else in a transaction of its own) before it returns,
 *   together with optional source state (a file offset, a journal cursor), so
 *   a source's position and its records can never disagree after a crash.
 * - a sender `peek`s a batch, may `begin` it (a durable "this batch is on the
 *   wire" marker, so after a crash it can ask the cloud whether the batch
 *   arrived instead of resending it), sends it, and `ack`s: the records up to
 *   the acked id are deleted in one transaction. `kill -9` at any moment loses
 *   no appended record and resends no acknowledged one.
 * - bounded by `maxRecords` and `maxBytes` per stream; when an append would
 *   pass a bound the oldest records are dropped to make room (the one policy),
 *   counted and logged once per episode (an episode ends when the backlog is
 *   back under half of both bounds).
 *
 * Tables (in the agent's database, created here and nowhere else):
 * - `_spool_streams(sid INTEGER PRIMARY KEY, name TEXT UNIQUE, appended,
 *   sent, dropped, refused INTEGER, last_error TEXT, last_error_at,
 *   last_ack_at INTEGER, inflight_upto INTEGER, inflight_meta TEXT,
 *   inflight_at INTEGER)`: one row per stream; counters are totals since the
 *   stream was created (they survive restarts).
 * - `_spool(id INTEGER PRIMARY KEY AUTOINCREMENT, sid INTEGER, time INTEGER,
 *   bytes INTEGER, n INTEGER, k0 INTEGER, key TEXT, data TEXT)`, index `(sid, id)`: the
 *   records. A row holds one record (`n` = 1, `data` as given) or a *pack*
 *   of the `n` records one `append` stored together (`data` = their times
 *   and lengths, `+dt:len,dt:len,…` with each time as its difference from
 *   the row's `time` (packs of older versions: `t:len,…`, times in full), a
 *   newline, then their data end to end: a third of JSON's cost to write
 *   and read), so a source appending a chunk of 500 log lines
 *   writes, reads and deletes one row, not 500: SQLite's per-row work was
 *   most of a log line's cost. `time` is the first record's own time (ms
 *   since the epoch), `bytes` the UTF-8 size of the records' data. A
 *   record's id is `row id × 1024 + index` in its pack; `k0` is the index of
 *   the row's first record still stored (an ack or a drop that ends inside a
 *   pack keeps the rest of it, with the same ids). `key` is the records'
 *   optional key (a log event's destination): a pack holds records of one
 *   key, stored once for the row, not once per record.
 * - `_spool_state(sid INTEGER, key TEXT, value TEXT)`: sources' positions.
 *
 * Units: ms since the epoch for times, bytes for sizes.
 */

import type { Clock } from "../clock.ts";
import type { Database } from "../db/mod.ts";
import type { Logger } from "../log/mod.ts";
import { type _Head, type _Row, _Statements, type StreamRow } from "./_spool_sql.ts";

/** Ids per row: a record's id is `row id × ID_STRIDE + its index in the row's pack`. */
const ID_STRIDE = 1024;
/** Most data bytes in one pack (a longer append is stored as several). */
const PACK_BYTES = 256 * 1024;

/**
 * Older spool files: before packs (no `n`, `k0` columns; record id = row id)
 * add the columns and rescale the stored in-flight ids; before keys add the
 * `key` column (their records have none).
 */
function _migrate(sql: Database["sql"]): void {
  const cols = (sql.prepare("PRAGMA table_info(_spool)").all() as { name: string }[])
    .map((c) => c.name);
  if (cols.length === 0) return;
  if (!cols.includes("n")) {
    sql.exec(
      "ALTER TABLE _spool ADD COLUMN n INTEGER NOT NULL DEFAULT 1; " +
        "ALTER TABLE _spool ADD COLUMN k0 INTEGER NOT NULL DEFAULT 0; " +
        `UPDATE _spool_streams SET inflight_upto = inflight_upto * ${ID_STRIDE} ` +
        "WHERE inflight_upto IS NOT NULL;",
    );
  }
  if (!cols.includes("key")) sql.exec("ALTER TABLE _spool ADD COLUMN key TEXT;");
}

/**
 * A pack's `data`: `+`, then `dt:length,…` (`dt` the time's difference from
 * the first record's, which the row stores; lengths in UTF-16 units), a
 * newline, the data end to end. Small differences, not 13-digit times: a
 * shorter head, quicker to write and read.
 */
function _pack(records: readonly { time: number; data: string }[]): string {
  const t0 = records[0]!.time;
  let head = "+";
  const parts: string[] = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    head += (i ? "," : "") + (r.time - t0) + ":" + r.data.length;
    parts[i] = r.data;
  }
  return head + "\n" + parts.join("");
}

/**
 * Call `visit` with each record of a pack of `n` stored in a row of `time`
 * (its time, data and UTF-16 length) until it returns false. Returns false
 * when stopped.
 */
function _eachPacked(
  n: number,
  time: number,
  text: string,
  visit: (time: number, data: string, length: number) => boolean,
): boolean {
  // Times relative to the row's (a head starting with "+"), or in full (older packs).
  const relative = text.startsWith("+");
  const base = relative ? time : 0;
  const nl = text.indexOf("\n");
  let at = nl + 1;
  let i = relative ? 1 : 0;
  for (let k = 0; k < n; k++) {
    const colon = text.indexOf(":", i);
    let comma = text.indexOf(",", colon);
    if (comma < 0 || comma > nl) comma = nl;
    const len = +text.slice(colon + 1, comma);
    if (!visit(base + +text.slice(i, colon), text.slice(at, at + len), len)) return false;
    at += len;
    i = comma + 1;
  }
  return true;
}

/** The records of a stored row, `[time, data]` each (one for a single-record row). */
function _unpack(row: { n: number; time: number; data: string }): [number, string][] {
  if (row.n === 1) return [[row.time, row.data]];
  const out: [number, string][] = [];
  _eachPacked(row.n, row.time, row.data, (time, data) => out.push([time, data]) > 0);
  return out;
}

/** The spool's tables; created here and nowhere else. */
const DDL = `
CREATE TABLE IF NOT EXISTS _spool_streams (
  sid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
  appended INTEGER NOT NULL DEFAULT 0, sent INTEGER NOT NULL DEFAULT 0,
  dropped INTEGER NOT NULL DEFAULT 0, refused INTEGER NOT NULL DEFAULT 0,
  last_error TEXT, last_error_at INTEGER, last_ack_at INTEGER,
  inflight_upto INTEGER, inflight_meta TEXT, inflight_at INTEGER);
CREATE TABLE IF NOT EXISTS _spool (
  id INTEGER PRIMARY KEY AUTOINCREMENT, sid INTEGER NOT NULL, time INTEGER NOT NULL,
  bytes INTEGER NOT NULL, n INTEGER NOT NULL DEFAULT 1, k0 INTEGER NOT NULL DEFAULT 0,
  key TEXT, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS _spool_sid ON _spool (sid, id);
CREATE TABLE IF NOT EXISTS _spool_state (
  sid INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (sid, key)) WITHOUT ROWID;
`;

/** A stored record. */
export interface SpoolRecord {
  /** Position in the spool (grows monotonically; never reused). */
  id: number;
  /** The record's own time, ms since the epoch. */
  time: number;
  /** UTF-8 size of `data`. */
  bytes: number;
  data: string;
  /** The key it was appended with (absent when none). */
  key?: string;
}

/** What `append` takes. */
export interface NewRecord {
  /** ms since the epoch. @default clock.now() */
  time?: number;
  /**
   * What the consumer groups records by (a log event's destination), not
   * counted in `bytes`: records appended together with one key store it once.
   */
  key?: string;
  data: string;
}

/** A record as the spool holds it in memory before the insert. */
interface _New {
  time: number;
  key: string | null;
  data: string;
  bytes: number;
}

/** Bounds of one stream. */
export interface StreamLimits {
  /** Most records kept. @default 100000 */
  maxRecords?: number;
  /** Most bytes of `data` kept. @default 67108864 (64 MiB) */
  maxBytes?: number;
}

/** What `peek` may return at most. */
export interface PeekLimits {
  /** @default 1000 */
  maxRecords?: number;
  /** Sum of `bytes + overhead` per record. @default Infinity */
  maxBytes?: number;
  /** Bytes counted per record on top of its data. @default 0 */
  overhead?: number;
}

/** A batch on the wire, as `begin` recorded it. */
export interface Inflight {
  /** Last record id of the batch. */
  upTo: number;
  /** What the sender wrote to recognise the batch (JSON, its own format). */
  meta: string;
  /** When it was begun, ms since the epoch. */
  at: number;
}

/** One stream's figures, for /api/status, /metrics and `tern cloud status`. */
export interface StreamStatus {
  name: string;
  /** Records waiting. */
  backlog: number;
  /** Bytes waiting. */
  bytes: number;
  /** Age of the oldest waiting record (now − its time), ms; 0 when empty. */
  oldestAgeMs: number;
  maxRecords: number;
  maxBytes: number;
  /** Totals since the stream was created. */
  appended: number;
  sent: number;
  dropped: number;
  refused: number;
  lastError: string | null;
  lastErrorAt: number | null;
  lastAckAt: number | null;
}

/** Options of {@linkcode Spool}. */
export interface SpoolOptions {
  clock: Clock;
  /** Where drops and errors are reported. */
  log: Logger;
}

const NON_ASCII = /[\u0080-\uffff]/;

/** UTF-8 byte length, without encoding (an ASCII string, the usual log line, is one regex test). */
export function utf8Length(s: string): number {
  if (!NON_ASCII.test(s)) return s.length;
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (
      c >= 0xd800 && c < 0xdc00 && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) < 0xe000
    ) {
      n += 2; // a surrogate pair: 2 units, 4 bytes
      i++;
    } else n += 2;
  }
  return n;
}

/** The spool of one database. Get it with `Spool.of(db, options)`: one per database. */
export class Spool {
  static readonly #byDb = new WeakMap<Database, Spool>();
  readonly db: Database;
  readonly clock: Clock;
  readonly log: Logger;
  readonly #sql: _Statements;
  readonly #streams = new Map<string, SpoolStream>();

  private constructor(db: Database, options: SpoolOptions) {
    this.db = db;
    this.clock = options.clock;
    this.log = options.log;
    db.transaction(() => {
      _migrate(db.sql);
      db.sql.exec(DDL);
    });
    this.#sql = new _Statements(db.sql);
  }

  /** The spool of `db` (created with its tables on first use). */
  static of(db: Database, options: SpoolOptions): Spool {
    let s = Spool.#byDb.get(db);
    if (!s) Spool.#byDb.set(db, s = new Spool(db, options));
    return s;
  }

  /** Open (or create) a stream; calling again with new limits applies them. */
  stream(name: string, limits: StreamLimits = {}): SpoolStream {
    if (!/^[A-Za-z0-9_.:/-]{1,200}$/.test(name)) {
      throw new TypeError(`Bad spool stream name "${name}" (letters, digits and _ . : / -)`);
    }
    let s = this.#streams.get(name);
    if (!s) {
      const row = this.db.transaction(() => this.#sql.ensure(name));
      s = new SpoolStream(this, this.#sql, row, limits);
      this.#streams.set(name, s);
    } else s.setLimits(limits);
    return s;
  }

  /** Every stream opened in this process, by name. */
  streams(): SpoolStream[] {
    return [...this.#streams.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Status of every stream stored in the database (also ones not opened by this process). */
  status(): StreamStatus[] {
    const open = new Map([...this.#streams].map(([k, v]) => [k, v.status()]));
    for (const row of this.#sql.allStreams()) {
      if (!open.has(row.name)) open.set(row.name, statusOfRow(this.#sql, row, this.clock.now()));
    }
    return [...open.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
}

/**
 * Status of every spool stream in `db` without opening them (for `tern cloud
 * status`, which reads the agent's database from another process).
 */
export function spoolStatus(db: Database, now = Date.now()): StreamStatus[] {
  const exists = db.sql.prepare(
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_spool_streams'",
  ).get();
  if (!exists) return [];
  const sql = new _Statements(db.sql);
  return sql.allStreams().map((row) => statusOfRow(sql, row, now));
}

function statusOfRow(sql: _Statements, row: StreamRow, now: number): StreamStatus {
  const totals = sql.totals(row.sid);
  return statusOf(row, {
    backlog: totals.n,
    bytes: totals.b,
    head: sql.headTime(row.sid),
    now,
    maxRecords: 0,
    maxBytes: 0,
  });
}

/** A stream's status from its row and what the caller knows of its queue. */
function statusOf(
  row: StreamRow,
  q: {
    backlog: number;
    bytes: number;
    head: number | undefined;
    now: number;
    maxRecords: number;
    maxBytes: number;
  },
): StreamStatus {
  return {
    name: row.name,
    backlog: q.backlog,
    bytes: q.bytes,
    oldestAgeMs: q.head === undefined ? 0 : Math.max(0, q.now - q.head),
    maxRecords: q.maxRecords,
    maxBytes: q.maxBytes,
    appended: row.appended,
    sent: row.sent,
    dropped: row.dropped,
    refused: row.refused,
    lastError: row.last_error,
    lastErrorAt: row.last_error_at,
    lastAckAt: row.last_ack_at,
  };
}

/** One named stream of a {@linkcode Spool}. */
export class SpoolStream {
  readonly name: string;
  readonly #spool: Spool;
  readonly #sql: _Statements;
  readonly #sid: number;
  #row: StreamRow;
  #maxRecords = 100_000;
  #maxBytes = 64 * 1024 * 1024;
  #count: number;
  #bytes: number;
  /** Whether the counters may be off (an append inside a caller's transaction that rolled back). */
  #stale = false;
  #episodeDrops = 0;
  #waiters: (() => void)[] = [];

  constructor(spool: Spool, sql: _Statements, row: StreamRow, limits: StreamLimits) {
    this.#spool = spool;
    this.#sql = sql;
    this.#row = row;
    this.#sid = row.sid;
    this.name = row.name;
    this.setLimits(limits);
    const t = sql.totals(row.sid);
    this.#count = t.n;
    this.#bytes = t.b;
  }

  setLimits(limits: StreamLimits): void {
    const r = limits.maxRecords ?? 100_000;
    const b = limits.maxBytes ?? 64 * 1024 * 1024;
    if (!Number.isInteger(r) || r < 1) throw new RangeError(`maxRecords must be ≥ 1, got ${r}`);
    if (!Number.isInteger(b) || b < 1) throw new RangeError(`maxBytes must be ≥ 1, got ${b}`);
    this.#maxRecords = r;
    this.#maxBytes = b;
  }

  /** Records waiting. */
  get backlog(): number {
    this.#refresh();
    return this.#count;
  }

  /**
   * Store records (and source state, `null` deleting a key) atomically.
   * Returns the id of the last record stored (0 when none was given).
   * Records larger than `maxBytes` are refused with a RangeError.
   */
  append(records: NewRecord[], state?: Record<string, string | null>): number {
    const now = this.#spool.clock.now();
    const rows = records.map((r): _New => {
      if (typeof r.data !== "string") throw new TypeError("A spool record's data must be a string");
      if (r.key !== undefined && typeof r.key !== "string") {
        throw new TypeError("A spool record's key must be a string");
      }
      const time = r.time ?? now;
      if (!Number.isFinite(time)) throw new TypeError(`Bad record time ${time}`);
      return {
        time: Math.floor(time),
        key: r.key ?? null,
        data: r.data,
        bytes: utf8Length(r.data),
      };
    });
    for (const r of rows) {
      if (r.bytes > this.#maxBytes) {
        throw new RangeError(
          `A record of ${r.bytes} bytes is larger than stream "${this.name}" holds (${this.#maxBytes})`,
        );
      }
    }
    const db = this.#spool.db;
    const nested = db.sql.isTransaction;
    let last = 0;
    let dropped = 0;
    const sizes = { n: this.#count, b: this.#bytes };
    db.transaction(() => {
      if (rows.length) last = this.#insert(rows);
      for (const r of rows) sizes.b += r.bytes;
      sizes.n += rows.length;
      if (sizes.n > this.#maxRecords || sizes.b > this.#maxBytes) {
        const d = this.#dropOldest(sizes);
        dropped += d;
      }
      this.#sql.counted(this.#sid, rows.length, dropped);
      if (state) {
        for (const [k, v] of Object.entries(state)) this.#sql.setState(this.#sid, k, v);
      }
    });
    this.#count = sizes.n;
    this.#bytes = sizes.b;
    if (nested) this.#stale = true;
    if (dropped > 0) this.#noteDrops(dropped);
    if (rows.length) this.#wake();
    return last;
  }

  /**
   * Store `rows` as packs (one row for a single record; a pack ends at a
   * change of key); returns the last record's id.
   */
  #insert(rows: _New[]): number {
    if (rows.length === 1) {
      const r = rows[0]!;
      return this.#sql.insertMany(this.#sid, [{ ...r, n: 1 }]) * ID_STRIDE;
    }
    const packs: _Row[] = [];
    let start = 0;
    while (start < rows.length) {
      const key = rows[start]!.key;
      let end = start;
      let bytes = 0;
      while (
        end < rows.length && end - start < ID_STRIDE && rows[end]!.key === key &&
        (end === start || bytes + rows[end]!.bytes <= PACK_BYTES)
      ) bytes += rows[end++]!.bytes;
      const part = rows.slice(start, end);
      packs.push(
        part.length === 1 ? { ...part[0]!, n: 1 } : {
          time: part[0]!.time,
          bytes,
          n: part.length,
          key,
          data: _pack(part),
        },
      );
      start = end;
    }
    return this.#sql.insertMany(this.#sid, packs) * ID_STRIDE + packs.at(-1)!.n - 1;
  }

  /**
   * Delete every record up to id `upTo` (inclusive): the rows before its row,
   * and in its row the records up to it (the rest of a pack is kept, ids
   * unchanged). Returns the records and bytes deleted.
   */
  #cutHead(upTo: number): { n: number; b: number } {
    const rowId = Math.floor(upTo / ID_STRIDE);
    const k = upTo % ID_STRIDE;
    const cut = this.#sql.deleteBefore(this.#sid, rowId);
    const row = this.#sql.row(this.#sid, rowId);
    if (!row || k < row.k0) return cut;
    if (k >= row.k0 + row.n - 1) {
      this.#sql.deleteRow(this.#sid, rowId);
      return { n: cut.n + row.n, b: cut.b + row.bytes };
    }
    const records = _unpack(row);
    const keep = records.slice(k - row.k0 + 1);
    let bytes = 0;
    for (const [, d] of keep) bytes += utf8Length(d);
    this.#sql.rewrite(this.#sid, rowId, {
      time: keep[0]![0],
      bytes,
      n: keep.length,
      k0: k + 1,
      data: keep.length === 1 ? keep[0]![1] : _pack(keep.map(([time, data]) => ({ time, data }))),
    });
    return { n: cut.n + records.length - keep.length, b: cut.b + row.bytes - bytes };
  }

  /** Delete head records until the new ones fit; returns how many. */
  #dropOldest(sizes: { n: number; b: number }): number {
    let dropped = 0;
    const over = () => sizes.n > this.#maxRecords || sizes.b > this.#maxBytes;
    while (over()) {
      const head = this.#sql.head(this.#sid, 64);
      let upTo = -1;
      for (const h of head) {
        if (!over()) break;
        upTo = this.#dropIn(h, sizes);
      }
      if (upTo < 0) break;
      dropped += this.#cutHead(upTo).n;
    }
    return dropped;
  }

  /**
   * Count off records of the head row `h` from `sizes` until the stream fits
   * (the whole row when it must go); returns the id of the last one counted.
   */
  #dropIn(h: _Head, sizes: { n: number; b: number }): number {
    const whole = sizes.n - h.n > this.#maxRecords || sizes.b - h.bytes > this.#maxBytes;
    if (whole || h.n === 1) {
      sizes.n -= h.n;
      sizes.b -= h.bytes;
      return h.id * ID_STRIDE + h.k0 + h.n - 1;
    }
    const records = _unpack(this.#sql.row(this.#sid, h.id)!);
    let k = 0;
    while (sizes.n > this.#maxRecords || sizes.b > this.#maxBytes) {
      sizes.n--;
      sizes.b -= utf8Length(records[k++]![1]);
    }
    return h.id * ID_STRIDE + h.k0 + k - 1;
  }

  #noteDrops(n: number): void {
    const first = this.#episodeDrops === 0;
    this.#episodeDrops += n;
    if (first) {
      // After the transaction: the agent's log may itself be a spool stream.
      queueMicrotask(() =>
        this.#spool.log.warn(`Spool stream "${this.name}" is full: dropping the oldest records`, {
          stream: this.name,
          maxRecords: this.#maxRecords,
          maxBytes: this.#maxBytes,
        })
      );
    }
  }

  #endEpisode(): void {
    if (this.#episodeDrops === 0) return;
    if (this.#count > this.#maxRecords / 2 || this.#bytes > this.#maxBytes / 2) return;
    const n = this.#episodeDrops;
    this.#episodeDrops = 0;
    this.#spool.log.warn(`Spool stream "${this.name}" dropped ${n} records while it was full`, {
      stream: this.name,
      dropped: n,
    });
  }

  /** The oldest waiting records, in id order, after `after` (exclusive), within `limits`. */
  peek(limits: PeekLimits = {}, after = 0): SpoolRecord[] {
    const maxRecords = limits.maxRecords ?? 1000;
    const maxBytes = limits.maxBytes ?? Infinity;
    const overhead = limits.overhead ?? 0;
    const out: SpoolRecord[] = [];
    let bytes = 0;
    let from = Math.floor(after / ID_STRIDE);
    const take = (r: SpoolRecord) => {
      if (r.id <= after) return true;
      if (bytes + r.bytes + overhead > maxBytes && out.length > 0) return false;
      bytes += r.bytes + overhead;
      out.push(r);
      return bytes < maxBytes && out.length < maxRecords;
    };
    const record = (id: number, time: number, bytes: number, key: string | null, data: string) =>
      key === null ? { id, time, bytes, data } : { id, time, bytes, data, key };
    while (out.length < maxRecords) {
      const rows = this.#sql.peek(this.#sid, from, Math.min(maxRecords - out.length, 2048));
      if (rows.length === 0) break;
      for (const [rowId, time, size, n, k0, key, data] of rows) {
        let id = rowId * ID_STRIDE + k0;
        if (n === 1) {
          if (!take(record(id, time, size, key, data))) return out;
          continue;
        }
        // A pack whose bytes are as many as its data's UTF-16 units is ASCII:
        // a record's bytes are its length.
        const ascii = size === data.length - data.indexOf("\n") - 1;
        const more = _eachPacked(
          n,
          time,
          data,
          (t, d, length) => take(record(id++, t, ascii ? length : utf8Length(d), key, d)),
        );
        if (!more) return out;
      }
      from = rows[rows.length - 1]![0] + 1;
    }
    return out;
  }

  /** Record that the batch ending at `upTo` is being sent, with the sender's `meta`. */
  begin(upTo: number, meta: string): void {
    const at = this.#spool.clock.now();
    this.#spool.db.transaction(() => this.#sql.setInflight(this.#sid, upTo, meta, at));
  }

  /** The batch a previous run began and never acked or abandoned, if any. */
  inflight(): Inflight | undefined {
    const row = this.#sql.stream(this.#sid);
    if (row.inflight_upto === null || row.inflight_meta === null) return undefined;
    return { upTo: row.inflight_upto, meta: row.inflight_meta, at: row.inflight_at ?? 0 };
  }

  /** Forget the in-flight marker (the batch was refused before it reached the cloud). */
  abandon(): void {
    this.#spool.db.transaction(() => this.#sql.setInflight(this.#sid, null, null, null));
  }

  /**
   * The cloud accepted every record up to `upTo`: delete them. `refused` of
   * them were dropped for good (the cloud or the limits refused them) and are
   * counted apart from the sent ones. Clears the in-flight marker.
   */
  ack(upTo: number, refused = 0): void {
    const at = this.#spool.clock.now();
    let deleted = 0;
    this.#spool.db.transaction(() => {
      deleted = this.#cutHead(upTo).n;
      this.#sql.acked(this.#sid, Math.max(0, deleted - refused), Math.min(refused, deleted), at);
    });
    this.#stale = true;
    this.#refresh();
    this.#endEpisode();
  }

  /** Remember the last send error (shown in status; the message is redacted by the caller). */
  fail(error: string): void {
    const at = this.#spool.clock.now();
    this.#spool.db.transaction(() => this.#sql.failed(this.#sid, error.slice(0, 500), at));
  }

  /** A source's saved state. */
  state(key: string): string | undefined {
    return this.#sql.getState(this.#sid, key);
  }

  /** Every saved state key of this stream. */
  states(): Record<string, string> {
    return this.#sql.allState(this.#sid);
  }

  /** Save source state without records (e.g. a position past lines that were all filtered). */
  setState(state: Record<string, string | null>): void {
    this.#spool.db.transaction(() => {
      for (const [k, v] of Object.entries(state)) this.#sql.setState(this.#sid, k, v);
    });
  }

  /** Resolve at the next append (or when `signal` aborts). */
  changed(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal?.removeEventListener("abort", done);
        this.#waiters = this.#waiters.filter((w) => w !== done);
        resolve();
      };
      this.#waiters.push(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  #refresh(): void {
    if (!this.#stale || this.#spool.db.sql.isTransaction) return;
    const t = this.#sql.totals(this.#sid);
    this.#count = t.n;
    this.#bytes = t.b;
    this.#stale = false;
  }

  status(): StreamStatus {
    this.#refresh();
    this.#row = this.#sql.stream(this.#sid);
    const head = this.#count ? this.#sql.headTime(this.#sid) : undefined;
    return statusOf(this.#row, {
      backlog: this.#count,
      bytes: this.#bytes,
      head,
      now: this.#spool.clock.now(),
      maxRecords: this.#maxRecords,
      maxBytes: this.#maxBytes,
    });
  }
}
