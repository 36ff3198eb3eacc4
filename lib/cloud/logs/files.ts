/**
 * A file source: follows every file matching a glob (`*`, `?` in the file
 * name) like `tail -F`, and appends complete lines (or multiline events) to
 * its spool stream together with the file's position, in one transaction: a
 * crash can neither lose a line nor repeat one.
 *
 * - Identity: a file is its device and inode plus an FNV-1a hash of its first
 *   bytes (up to 1024), so a reused inode is a new file.
 * - Rotation by rename: the open handle keeps reading the renamed file to its
 *   end, then the new file is read from its start. After a restart, a saved
 *   file no longer under the glob is looked for by inode in its directory.
 * - Rotation by copytruncate: when the file shrinks (or its first bytes
 *   change), the copy (a file in the directory with the same first bytes) is
 *   read from the saved position to its end, then the file from its start.
 * - The file being written: a last line without its newline (or a multiline
 *   event still open) is uploaded once the file stayed unchanged `linger` ms.
 *
 * - Polls read synchronously (`readDirSync`, `statSync`, `seekSync`,
 *   `readSync`): what a poll reads was just written (the page cache), and an
 *   async file op costs 30–90 µs of CPU in hand-offs to the runtime's thread
 *   pool where a sync one costs 1–6 µs; seven per poll were about a tenth of
 *   a line's cost at 2,000 lines/s. The spool's SQLite commit of the same
 *   bytes that follows is synchronous too. Opening a file and the rare
 *   searches (a renamed file, a truncated file's copy) stay async.
 *
 * State (spool source state, one key per file): `f:DEV:INO` →
 * `{"p": path, "o": offset after the last byte uploaded, "l": bytes hashed, "h": hash}`.
 * Units: bytes, ms.
 */

import { dirname, join } from "../../path.ts";
import type { Clock } from "../../clock.ts";
import { DbError } from "../../db/mod.ts";
import type { Logger, Redactor } from "../../log/mod.ts";
import type { NewRecord, SpoolStream } from "../spool.ts";
import { safePart } from "./_names.ts";
import { lineTime } from "./_timestamp.ts";
import { type Destination, pushRecords } from "./sources.ts";

const PREFIX = 1024;
/** A line of only white space (not uploaded). */
const BLANK = /^\s*$/;

/** The last segment of a path. */
function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
const dec = new TextDecoder();
const enc = new TextEncoder();

/** Options of {@linkcode FileSource}. */
export interface FileSourceOptions {
  /** Absolute path or glob. */
  pattern: string;
  spool: SpoolStream;
  dest: Destination;
  clock: Clock;
  log: Logger;
  redactor?: Redactor;
  /** First line of an event; other lines join the previous one. */
  multiline?: RegExp;
  /** @default 5000 */
  linger?: number;
  /** Files present at the very first start: read from "beginning" or "end". @default "beginning" */
  startAt?: "beginning" | "end";
  /** Most bytes read from one file per poll. @default 1048576 */
  maxRead?: number;
}

interface _Saved {
  p: string;
  o: number;
  l: number;
  h: number;
}

interface _Tracked {
  key: string;
  path: string;
  file: Deno.FsFile;
  off: number;
  plen: number;
  phash: number;
  /** Size at the last poll and when it last changed. */
  size: number;
  changedAt: number;
  /** No longer matched by the glob (renamed away or deleted): finish and close. */
  rotated: boolean;
}

/** FNV-1a over `bytes`. */
function fnv(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193) >>> 0;
  return h;
}

/** A RegExp for a file-name glob. */
export function globRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(
    /\?/g,
    "[^/]",
  );
  return new RegExp(`^${body}$`);
}

export class FileSource {
  readonly #o: FileSourceOptions;
  readonly #dir: string;
  readonly #name: RegExp;
  readonly #tracked = new Map<string, _Tracked>();
  #first = true;
  /** Events appended since start. */
  events = 0;

  constructor(options: FileSourceOptions) {
    this.#o = options;
    this.#dir = dirname(options.pattern);
    this.#name = globRegExp(basename(options.pattern));
  }

  /** Files followed now (for status). */
  files(): { path: string; offset: number; rotated: boolean }[] {
    return [...this.#tracked.values()].map((t) => ({
      path: t.path,
      offset: t.off,
      rotated: t.rotated,
    }));
  }

  /** Poll every `interval` ms until `signal` aborts. */
  async run(signal: AbortSignal, interval = 1000): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.poll();
      } catch (e) {
        // A full storage is logged once by the database; the lines wait in the file meanwhile
        // (its position moves only with a stored append).
        if (!(e instanceof DbError && e.code === "full")) {
          this.#o.log.warn("Reading a followed file failed", {
            pattern: this.#o.pattern,
            error: e,
          });
        }
      }
      try {
        await this.#o.clock.sleep(interval, signal);
      } catch { /* aborted */ }
    }
  }

  /** One pass: find files, read what is new, upload it with the positions. Returns events appended. */
  async poll(): Promise<number> {
    const matched = this.#list();
    // Saved positions are read only when a file is new to this run (not every poll).
    let saved: Record<string, string> | undefined;
    const savedState = () => saved ??= this.#o.spool.states();
    const firstEver = this.#first && Object.keys(savedState()).length === 0;
    const seen = new Set<string>();
    for (const [path, info] of matched) {
      const key = `f:${info.dev}:${info.ino}`;
      seen.add(key);
      const t = this.#tracked.get(key);
      if (t) {
        t.path = path;
        continue;
      }
      await this.#open(key, path, savedState()[key], firstEver && this.#o.startAt === "end");
    }
    if (this.#first) {
      // Saved files no longer under the glob: renamed while the agent was down.
      for (const [key, text] of Object.entries(savedState())) {
        if (!key.startsWith("f:") || seen.has(key)) continue;
        const found = await this.#findByKey(key);
        if (found) await this.#open(key, found, text, false, true);
        else this.#o.spool.setState({ [key]: null });
      }
      this.#first = false;
    }
    let n = 0;
    for (const t of [...this.#tracked.values()]) {
      if (!seen.has(t.key)) t.rotated = true;
      n += await this.#read(t);
    }
    this.events += n;
    return n;
  }

  #list(): Map<string, Deno.FileInfo> {
    const out = new Map<string, Deno.FileInfo>();
    try {
      for (const e of Deno.readDirSync(this.#dir)) {
        if (!e.isFile || !this.#name.test(e.name)) continue;
        const path = join(this.#dir, e.name);
        try {
          out.set(path, Deno.statSync(path));
        } catch { /* gone */ }
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    return out;
  }

  async #findByKey(key: string): Promise<string | undefined> {
    try {
      for await (const e of Deno.readDir(this.#dir)) {
        if (!e.isFile) continue;
        const path = join(this.#dir, e.name);
        const s = await Deno.stat(path).catch(() => undefined);
        if (s && `f:${s.dev}:${s.ino}` === key) return path;
      }
    } catch { /* the directory is gone */ }
    return undefined;
  }

  async #open(
    key: string,
    path: string,
    savedText: string | undefined,
    atEnd: boolean,
    rotated = false,
  ): Promise<void> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (e) {
      this.#o.log.warn("A followed file cannot be opened", { path, error: e });
      return;
    }
    const size = (await file.stat()).size;
    const head = _readAt(file, 0, Math.min(PREFIX, size));
    let off = atEnd ? size : 0;
    if (savedText) {
      try {
        const s = JSON.parse(savedText) as _Saved;
        const same = head.length >= s.l && fnv(head.subarray(0, s.l)) === s.h;
        if (same && s.o <= size) off = s.o;
      } catch { /* unreadable state: start over */ }
    }
    const now = this.#o.clock.now();
    this.#tracked.set(key, {
      key,
      path,
      file,
      off,
      plen: head.length,
      phash: fnv(head),
      size,
      changedAt: now,
      rotated,
    });
  }

  /** Read what is new in `t`; returns events appended. */
  async #read(t: _Tracked): Promise<number> {
    const o = this.#o;
    const now = o.clock.now();
    let info: Deno.FileInfo;
    try {
      info = t.file.statSync();
    } catch {
      this.#close(t);
      return 0;
    }
    let n = 0;
    if (info.size !== t.size) {
      t.size = info.size;
      t.changedAt = now;
    }
    if (!t.rotated && this.#replaced(t, info.size)) {
      n += await this.#finishCopy(t);
      t.off = 0;
      const head = _readAt(t.file, 0, Math.min(PREFIX, info.size));
      t.plen = head.length;
      t.phash = fnv(head);
    }
    if (t.plen < PREFIX && info.size > t.plen) {
      const head = _readAt(t.file, 0, Math.min(PREFIX, info.size));
      t.plen = head.length;
      t.phash = fnv(head);
    }
    const idle = now - t.changedAt >= (o.linger ?? 5000);
    for (let rounds = 0; rounds < 64 && t.off < info.size; rounds++) {
      const want = Math.min(info.size - t.off, o.maxRead ?? 1024 * 1024);
      const bytes = _readAt(t.file, t.off, want);
      if (bytes.length === 0) break;
      const more = t.off + bytes.length < info.size;
      const { events, used } = this.#events(bytes, idle && !more, bytes.length >= want && more);
      if (used === 0) break;
      t.off += used;
      n += this.#append(t, events);
      if (!more) break;
    }
    if (t.rotated && idle && t.off >= info.size) this.#close(t);
    return n;
  }

  /** Whether `t` was truncated or its first bytes changed (copytruncate, or replaced in place). */
  #replaced(t: _Tracked, size: number): boolean {
    if (size < t.off) return true;
    if (t.plen === 0) return false;
    const head = _readAt(t.file, 0, t.plen);
    return head.length < t.plen || fnv(head) !== t.phash;
  }

  /** Upload the rest of the copy a copytruncate left (same first bytes, at least `t.off` long). */
  async #finishCopy(t: _Tracked): Promise<number> {
    if (t.off === 0 || t.plen === 0) return 0;
    let n = 0;
    try {
      for await (const e of Deno.readDir(this.#dir)) {
        const path = join(this.#dir, e.name);
        if (!e.isFile || path === t.path) continue;
        const s = await Deno.stat(path).catch(() => undefined);
        if (!s || s.size < t.off || `f:${s.dev}:${s.ino}` === t.key) continue;
        using f = await Deno.open(path, { read: true });
        if (fnv(_readAt(f, 0, t.plen)) !== t.phash) continue;
        let off = t.off;
        while (off < s.size) {
          const bytes = _readAt(f, off, Math.min(s.size - off, 1024 * 1024));
          if (bytes.length === 0) break;
          const last = off + bytes.length >= s.size;
          const { events, used } = this.#events(bytes, last, true);
          off += used;
          // The position moves to the start of the truncated file with these events.
          n += this.#append({ ...t, off: last ? 0 : t.off }, events);
          if (used === 0) break;
        }
        break;
      }
    } catch (e) {
      this.#o.log.warn("Reading the copy of a truncated file failed", { path: t.path, error: e });
    }
    return n;
  }

  /**
   * Complete events in `bytes`, secrets redacted, and how many bytes they
   * use. `flush`: the data ends here (a last line without newline, an open
   * multiline event go too). `force`: a buffer without any newline goes as
   * one event. Single-line events are redacted as one text before the split
   * (one pass over the chunk instead of one per line: a secret holds no
   * newline, so the result is the same).
   */
  #events(bytes: Uint8Array, flush: boolean, force: boolean): { events: string[]; used: number } {
    let end = bytes.lastIndexOf(10) + 1; // after the last "\n"
    if (flush || (end === 0 && force)) end = bytes.length;
    if (end === 0) return { events: [], used: 0 };
    const text = dec.decode(bytes.subarray(0, end));
    const multi = this.#o.multiline;
    const redact = (t: string) => this.#o.redactor ? this.#o.redactor.text(t) : t;
    const lines = (multi ? text : redact(text)).split("\n");
    if (lines.at(-1) === "") lines.pop();
    if (!multi) {
      return { events: lines.map((l) => l.endsWith("\r") ? l.slice(0, -1) : l), used: end };
    }
    // Multiline: keep the last event open unless flushing.
    const events: string[] = [];
    let cur: string[] = [];
    let curStart = 0;
    let pos = 0;
    for (const raw of lines) {
      const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (multi.test(line) && cur.length) {
        events.push(redact(cur.join("\n")));
        cur = [];
        curStart = pos;
      }
      cur.push(line);
      pos += enc.encode(raw).length + 1;
    }
    // The open event is complete when what follows (a line still being written) starts a new one.
    const next = end < bytes.length && multi.test(dec.decode(bytes.subarray(end)));
    if (flush || next) {
      if (cur.length) events.push(redact(cur.join("\n")));
      return { events, used: end };
    }
    return { events, used: events.length ? curStart : 0 };
  }

  /** Append `events` of `t` with its new position (`t.off`). Returns events appended. */
  #append(t: Pick<_Tracked, "key" | "path" | "off" | "plen" | "phash">, events: string[]): number {
    const o = this.#o;
    const now = o.clock.now();
    const values = { ...o.dest.values, file: safePart(basename(t.path)) };
    const records: NewRecord[] = [];
    let last = now;
    for (const e of events) {
      if (BLANK.test(e)) continue;
      const time = lineTime(e, now) ?? last;
      last = time;
      pushRecords(records, o.dest, e, time, values);
    }
    const state: _Saved = { p: t.path, o: t.off, l: t.plen, h: t.phash };
    o.spool.append(records, { [t.key]: JSON.stringify(state) });
    return records.length;
  }

  #close(t: _Tracked): void {
    try {
      t.file.close();
    } catch { /* closed */ }
    this.#tracked.delete(t.key);
    this.#o.spool.setState({ [t.key]: null });
  }

  /** Close every file. */
  close(): void {
    for (const t of this.#tracked.values()) {
      try {
        t.file.close();
      } catch { /* closed */ }
    }
    this.#tracked.clear();
  }
}

/** Up to `len` bytes of `file` from `off` (fewer at its end). */
function _readAt(file: Deno.FsFile, off: number, len: number): Uint8Array {
  const buf = new Uint8Array(len);
  file.seekSync(off, Deno.SeekMode.Start);
  let got = 0;
  while (got < len) {
    const n = file.readSync(buf.subarray(got));
    if (n === null || n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}
