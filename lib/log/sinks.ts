/**
 * Log sinks: where records go once they passed the level filter.
 * - `ConsoleSink`: text on a TTY, JSON lines otherwise (journald keeps them whole).
 * - `RotatingFileSink`: JSON lines to `path`; when the file would exceed
 *   `maxSize` bytes it is renamed `path.1` (older ones shift up to
 *   `path.<maxFiles-1>`, the oldest is deleted). Files are created 0600.
 * - `RingSink`: the last `size` records in memory for `/api/logs` and the dashboard.
 */

import { type LogRecord, toJsonLine, toText } from "./record.ts";

export interface Sink {
  write(record: LogRecord): void;
  close?(): void;
}

const encoder = new TextEncoder();

/** Options of {@linkcode ConsoleSink}. */
export interface ConsoleSinkOptions {
  /** "auto" picks text on a terminal, JSON otherwise. @default "auto" */
  format?: "auto" | "text" | "json";
  /** Where to write. @default Deno.stderr */
  out?: { writeSync(p: Uint8Array): number; isTerminal?(): boolean };
}

export class ConsoleSink implements Sink {
  readonly #out: NonNullable<ConsoleSinkOptions["out"]>;
  readonly #text: boolean;
  readonly #color: boolean;

  constructor(options: ConsoleSinkOptions = {}) {
    this.#out = options.out ?? Deno.stderr;
    const tty = this.#out.isTerminal?.() ?? false;
    const format = options.format ?? "auto";
    this.#text = format === "text" || (format === "auto" && tty);
    this.#color = this.#text && tty && !Deno.noColor;
  }

  write(r: LogRecord): void {
    const line = this.#text ? toText(r, this.#color) : toJsonLine(r);
    _writeAll(this.#out, encoder.encode(line + "\n"));
  }
}

/** Options of {@linkcode RotatingFileSink}. */
export interface RotatingFileOptions {
  /** File path. */
  path: string;
  /** Rotate when the file would exceed this many bytes. @default 10485760 (10 MiB) */
  maxSize?: number;
  /** Files kept including the current one. @default 5 */
  maxFiles?: number;
}

export class RotatingFileSink implements Sink {
  readonly #path: string;
  readonly #maxSize: number;
  readonly #maxFiles: number;
  #file: Deno.FsFile | undefined;
  #size = 0;

  constructor(options: RotatingFileOptions) {
    this.#path = options.path;
    this.#maxSize = options.maxSize ?? 10 * 1024 * 1024;
    this.#maxFiles = Math.max(1, options.maxFiles ?? 5);
    this.#open();
  }

  #open(): void {
    this.#file = Deno.openSync(this.#path, { append: true, create: true, mode: 0o600 });
    this.#size = this.#file.statSync().size;
  }

  #rotate(): void {
    this.#file?.close();
    this.#file = undefined;
    for (let i = this.#maxFiles - 1; i >= 1; i--) {
      const from = i === 1 ? this.#path : `${this.#path}.${i - 1}`;
      try {
        if (i === this.#maxFiles - 1) Deno.removeSync(`${this.#path}.${i}`);
      } catch { /* not there */ }
      try {
        Deno.renameSync(from, `${this.#path}.${i}`);
      } catch { /* not there */ }
    }
    if (this.#maxFiles === 1) Deno.truncateSync(this.#path, 0);
    this.#open();
  }

  write(r: LogRecord): void {
    const bytes = encoder.encode(toJsonLine(r) + "\n");
    if (this.#size > 0 && this.#size + bytes.length > this.#maxSize) this.#rotate();
    if (!this.#file) this.#open();
    _writeAll(this.#file!, bytes);
    this.#size += bytes.length;
  }

  close(): void {
    this.#file?.close();
    this.#file = undefined;
  }
}

/** Keeps the last `size` records. */
export class RingSink implements Sink {
  readonly #size: number;
  #buf: LogRecord[] = [];
  #seq = 0;

  /** @param size records kept @default 1000 */
  constructor(size = 1000) {
    this.#size = Math.max(1, size);
  }

  write(r: LogRecord): void {
    this.#seq++;
    this.#buf.push(r);
    if (this.#buf.length > this.#size) this.#buf.splice(0, this.#buf.length - this.#size);
  }

  /** Records kept, oldest first, optionally filtered. */
  entries(
    filter: { level?: LogRecord["level"]; source?: string; limit?: number } = {},
  ): LogRecord[] {
    const rank = { debug: 10, info: 20, warn: 30, error: 40 };
    let out = this.#buf;
    if (filter.level) out = out.filter((r) => rank[r.level] >= rank[filter.level!]);
    if (filter.source) {
      out = out.filter((r) =>
        r.source === filter.source || r.source.startsWith(filter.source + ".")
      );
    }
    if (filter.limit !== undefined) out = out.slice(-filter.limit);
    return [...out];
  }

  /** Total records ever written (kept or not). */
  get written(): number {
    return this.#seq;
  }
}

function _writeAll(out: { writeSync(p: Uint8Array): number }, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += out.writeSync(bytes.subarray(off));
}
