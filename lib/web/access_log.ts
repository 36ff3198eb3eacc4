/**
 * The access log: one line per request, Apache "combined" format or JSON
 * lines, to a file that is rotated at `maxSize` bytes (`access.log.1` …
 * `access.log.<maxFiles-1>`). Lines are buffered in memory and written at most
 * every 500 ms or every 64 KiB, so logging costs no syscall per request.
 *
 * combined: `127.0.0.1 - alice [25/Nov/2026:23:00:00 +0000] "GET /api/status HTTP/1.1" 200 512 "-" "curl/8"`
 * json:     `{"time":"…","addr":"127.0.0.1","user":"alice","method":"GET","path":"/api/status","status":200,"bytes":512,"ms":1,"ua":"curl/8"}`
 */

import type { Logger } from "../log/mod.ts";
import { dirname } from "../path.ts";
import type { WebContext } from "./context.ts";
import { mapResponse, type Middleware } from "./middleware/compose.ts";

/** Options of {@linkcode AccessLog}. */
export interface AccessLogOptions {
  /** File path (absolute). */
  path: string;
  /** @default "combined" */
  format?: "combined" | "json";
  /** Rotate beyond this many bytes. @default 10485760 */
  maxSize?: number;
  /** Files kept including the current one. @default 5 */
  maxFiles?: number;
  /** Flush interval in ms. @default 500 */
  flushMs?: number;
}

/** One request as the log sees it. */
export interface AccessEntry {
  time: number;
  addr: string;
  user: string | undefined;
  method: string;
  /** Path with query, as received. */
  target: string;
  status: number;
  bytes: number | undefined;
  /** Time to response headers, whole ms. */
  ms: number;
  referer: string | null;
  ua: string | null;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const enc = new TextEncoder();

export class AccessLog {
  readonly #o: Required<AccessLogOptions>;
  #buf: string[] = [];
  #bufLen = 0;
  #size = 0;
  #file: Deno.FsFile | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: AccessLogOptions) {
    this.#o = {
      format: "combined",
      maxSize: 10 * 1024 * 1024,
      maxFiles: 5,
      flushMs: 500,
      ...options,
    };
    Deno.mkdirSync(dirname(this.#o.path), { recursive: true, mode: 0o700 });
    this.#open();
  }

  #open(): void {
    this.#file = Deno.openSync(this.#o.path, { append: true, create: true, mode: 0o600 });
    this.#size = this.#file.statSync().size;
  }

  write(e: AccessEntry): void {
    const line = this.#o.format === "json" ? jsonLine(e) : combinedLine(e);
    this.#buf.push(line);
    this.#bufLen += line.length + 1;
    if (this.#bufLen >= 64 * 1024) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.#o.flushMs);
  }

  /** Write buffered lines now. */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#buf.length === 0 || !this.#file) return;
    const bytes = enc.encode(this.#buf.join("\n") + "\n");
    this.#buf = [];
    this.#bufLen = 0;
    if (this.#size > 0 && this.#size + bytes.length > this.#o.maxSize) this.#rotate();
    let off = 0;
    while (off < bytes.length) off += this.#file!.writeSync(bytes.subarray(off));
    this.#size += bytes.length;
  }

  #rotate(): void {
    this.#file?.close();
    const p = this.#o.path;
    for (let i = this.#o.maxFiles - 1; i >= 1; i--) {
      try {
        Deno.renameSync(i === 1 ? p : `${p}.${i - 1}`, `${p}.${i}`);
      } catch { /* not there yet */ }
    }
    if (this.#o.maxFiles === 1) Deno.truncateSync(p, 0);
    this.#open();
  }

  close(): void {
    this.flush();
    this.#file?.close();
    this.#file = undefined;
  }
}

function clf(t: number): string {
  const d = new Date(t);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** Quote for the combined format: no raw quotes, backslashes or control bytes. */
function q(s: string | null): string {
  if (s === null) return '"-"';
  const esc = (c: string) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  // deno-lint-ignore no-control-regex
  return `"${s.replace(/[\\"\x00-\x1f\x7f]/g, esc)}"`;
}

export function combinedLine(e: AccessEntry): string {
  const user = e.user ? e.user.replace(/[^\w.@-]/g, "_") : "-";
  return `${e.addr} - ${user} [${clf(e.time)}] ${q(`${e.method} ${e.target} HTTP/1.1`)} ` +
    `${e.status} ${e.bytes ?? "-"} ${q(e.referer)} ${q(e.ua)}`;
}

export function jsonLine(e: AccessEntry): string {
  return JSON.stringify({
    time: new Date(e.time).toISOString(),
    addr: e.addr,
    user: e.user ?? null,
    method: e.method,
    path: e.target,
    status: e.status,
    bytes: e.bytes ?? null,
    ms: Math.round(e.ms * 100) / 100,
    referer: e.referer,
    ua: e.ua,
  });
}

/**
 * The middleware: one line per answered request (outermost, so it sees the final status and
 * headers). A failing write (a full disk) is logged and never fails the request.
 */
export function accessLogger(access: AccessLog, log: Logger): Middleware {
  return (req, ctx, next) => {
    const t0 = performance.now();
    return mapResponse(next(req, ctx), (res) => {
      try {
        access.write(entryOf(req, ctx, res, Math.round(performance.now() - t0)));
      } catch (e) {
        log.warn("access log write failed", { error: String(e) });
      }
      return res;
    });
  };
}

function entryOf(req: Request, ctx: WebContext, res: Response, ms: number): AccessEntry {
  const len = res.headers.get("content-length");
  const url = req.url;
  return {
    time: ctx.now,
    addr: ctx.remoteAddr,
    user: ctx.user?.username,
    method: req.method,
    target: url.slice(url.indexOf("/", url.indexOf("//") + 2)),
    status: res.status,
    bytes: len === null ? undefined : Number(len),
    ms,
    referer: req.headers.get("referer"),
    ua: req.headers.get("user-agent"),
  };
}
