/**
 * The systemd journal as a log source: runs `journalctl --output=json
 * --follow --after-cursor=CURSOR` (or `--lines=0` / `--lines=all` the first
 * time, by `startAt`) and appends each entry with its own time
 * (`__REALTIME_TIMESTAMP`) and the entry's cursor in one transaction, so a
 * restart continues exactly after the last entry stored. When journalctl
 * ends or cannot start, it is started again with full-jitter backoff.
 *
 * Event message: `IDENTIFIER[PID]: MESSAGE` (IDENTIFIER is SYSLOG_IDENTIFIER,
 * else _COMM, else the unit); a binary MESSAGE (a byte array in JSON) is
 * decoded as UTF-8. State key: `cursor`.
 */

import { Backoff } from "../../backoff.ts";
import type { Clock } from "../../clock.ts";
import type { Logger, Redactor } from "../../log/mod.ts";
import type { NewRecord, SpoolStream } from "../spool.ts";
import { type Destination, pushRecords } from "./sources.ts";

/** Options of {@linkcode JournalSource}. */
export interface JournalSourceOptions {
  spool: SpoolStream;
  dest: Destination;
  clock: Clock;
  log: Logger;
  redactor?: Redactor;
  /** @default "journalctl" */
  command?: string;
  /** `--unit` filters. @default [] */
  units?: string[];
  /** `--directory` (a journal directory) instead of the system journal. */
  directory?: string;
  /** `--file` (one journal file) instead of the system journal. */
  file?: string;
  /** First start: from now on, or the whole journal. @default "now" */
  startAt?: "now" | "beginning";
  /** Restart backoff, ms. @default { min: 1000, max: 60000 } */
  backoff?: { min: number; max: number };
  /** Entries stored per transaction at most. @default 500 */
  batch?: number;
}

const dec = new TextDecoder();

/** The event message of one journal entry. */
export function journalMessage(e: Record<string, unknown>): string {
  let msg = e.MESSAGE;
  if (Array.isArray(msg)) msg = dec.decode(new Uint8Array(msg as number[]));
  const text = typeof msg === "string" ? msg : msg === undefined || msg === null ? "" : String(msg);
  const ident = e.SYSLOG_IDENTIFIER ?? e._COMM ?? e._SYSTEMD_UNIT;
  if (typeof ident !== "string") return text;
  const pid = e.SYSLOG_PID ?? e._PID;
  return `${ident}${typeof pid === "string" ? `[${pid}]` : ""}: ${text}`;
}

export class JournalSource {
  readonly #o: JournalSourceOptions;
  readonly #backoff: Backoff;
  #child: Deno.ChildProcess | undefined;
  /** Entries appended since start. */
  events = 0;
  lastError: string | undefined;

  constructor(options: JournalSourceOptions) {
    this.#o = options;
    this.#backoff = new Backoff(options.backoff ?? { min: 1000, max: 60_000 });
  }

  /** The journalctl arguments for the saved cursor. */
  args(): string[] {
    const o = this.#o;
    const args = ["--output=json", "--follow", "--no-pager", "--quiet"];
    if (o.directory) args.push(`--directory=${o.directory}`);
    if (o.file) args.push(`--file=${o.file}`);
    for (const u of o.units ?? []) args.push(`--unit=${u}`);
    const cursor = o.spool.state("cursor");
    if (cursor) args.push(`--after-cursor=${cursor}`);
    else args.push(o.startAt === "beginning" ? "--lines=all" : "--lines=0");
    return args;
  }

  /** Follow the journal until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const o = this.#o;
    while (!signal.aborted) {
      let code: number | string = "?";
      try {
        code = await this.#follow(signal);
      } catch (e) {
        code = e instanceof Error ? e.message : String(e);
      }
      if (signal.aborted) break;
      this.lastError = `journalctl ended (${code})`;
      o.log.warn("journalctl ended; starting it again", { result: code });
      try {
        await o.clock.sleep(this.#backoff.next(), signal);
      } catch { /* aborted */ }
    }
  }

  async #follow(signal: AbortSignal): Promise<number> {
    const o = this.#o;
    const child = new Deno.Command(o.command ?? "journalctl", {
      args: this.args(),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { SYSTEMD_COLORS: "0", SYSTEMD_PAGER: "" },
    }).spawn();
    this.#child = child;
    const kill = () => {
      try {
        child.kill("SIGTERM");
      } catch { /* exited */ }
    };
    signal.addEventListener("abort", kill, { once: true });
    const stderr = new Response(child.stderr).text();
    try {
      let buf = "";
      let pending: Record<string, unknown>[] = [];
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!line) continue;
          try {
            pending.push(JSON.parse(line));
          } catch {
            o.log.debug("A journalctl line is not JSON", { line: line.slice(0, 200) });
          }
          if (pending.length >= (o.batch ?? 500)) {
            this.#store(pending);
            pending = [];
          }
        }
        if (pending.length) {
          this.#store(pending);
          pending = [];
        }
        this.#backoff.reset();
      }
    } finally {
      signal.removeEventListener("abort", kill);
      kill();
    }
    const status = await child.status;
    const err = (await stderr).trim();
    if (err && !signal.aborted) this.lastError = err.slice(0, 300);
    this.#child = undefined;
    return status.code;
  }

  /** Append entries and the last cursor in one transaction. */
  #store(entries: Record<string, unknown>[]): void {
    const o = this.#o;
    const records: NewRecord[] = [];
    let cursor: string | undefined;
    for (const e of entries) {
      if (typeof e.__CURSOR === "string") cursor = e.__CURSOR;
      const us = Number(e.__REALTIME_TIMESTAMP);
      const time = Number.isFinite(us) ? Math.floor(us / 1000) : o.clock.now();
      const text = journalMessage(e);
      if (!text.trim()) continue;
      pushRecords(records, o.dest, o.redactor ? o.redactor.text(text) : text, time);
    }
    o.spool.append(records, cursor ? { cursor } : undefined);
    this.events += records.length;
  }

  /** Whether journalctl is running now. */
  get running(): boolean {
    return this.#child !== undefined;
  }
}
