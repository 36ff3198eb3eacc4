/**
 * A watched upload directory (camera-style): every `interval` ms the
 * directory is listed; a regular file whose size and mtime stayed the same
 * for `settle` ms is queued once. What was queued is remembered in the
 * upload stream's state (`w:{path}` = `"{size}:{mtimeMs}"`), so a restart
 * queues nothing twice; a file rewritten later (new size or mtime) is
 * queued again. Names starting with "." and ending in ".tmp" or ".part" are
 * skipped (files still being written).
 */

import type { Clock } from "../../clock.ts";
import type { Logger } from "../../log/mod.ts";
import { join } from "../../path.ts";
import type { SpoolStream } from "../spool.ts";

export interface DirectoryWatchOptions {
  dir: string;
  stream: SpoolStream;
  clock: Clock;
  log: Logger;
  /** ms unchanged before a file is queued. */
  settle: number;
  /** ms between listings. */
  interval: number;
  pattern?: RegExp;
  /** Queue one file (absolute path, base name). */
  queue: (file: string, name: string) => Promise<string>;
}

export class DirectoryWatch {
  readonly #o: DirectoryWatchOptions;
  /** path → [identity, first seen with it]. */
  readonly #seen = new Map<string, [string, number]>();

  constructor(o: DirectoryWatchOptions) {
    this.#o = o;
  }

  /** List once; returns how many files were queued. */
  async poll(): Promise<number> {
    const o = this.#o;
    const now = o.clock.now();
    let queued = 0;
    const present = new Set<string>();
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(o.dir));
    } catch (e) {
      o.log.warn("Cannot list the upload directory", { dir: o.dir, error: (e as Error).message });
      return 0;
    }
    for (const e of entries) {
      if (!e.isFile || e.name.startsWith(".") || /\.(tmp|part)$/.test(e.name)) continue;
      if (o.pattern && !o.pattern.test(e.name)) continue;
      const path = join(o.dir, e.name);
      present.add(path);
      let st: Deno.FileInfo;
      try {
        st = await Deno.stat(path);
      } catch {
        continue;
      }
      const ident = `${st.size}:${st.mtime?.getTime() ?? 0}`;
      if (o.stream.state(`w:${path}`) === ident) continue;
      const seen = this.#seen.get(path);
      if (!seen || seen[0] !== ident) {
        this.#seen.set(path, [ident, now]);
        continue;
      }
      if (now - seen[1] < o.settle) continue;
      try {
        const id = await o.queue(path, e.name);
        o.stream.setState({ [`w:${path}`]: ident });
        o.log.info("Queued a watched file", { file: path, id });
        queued++;
      } catch (err) {
        o.log.warn("Cannot queue a watched file", { file: path, error: (err as Error).message });
      }
    }
    const forget: Record<string, null> = {};
    for (const k of Object.keys(o.stream.states())) {
      if (k.startsWith(`w:${o.dir}/`) && !present.has(k.slice(2))) forget[k] = null;
    }
    if (Object.keys(forget).length) o.stream.setState(forget);
    for (const p of this.#seen.keys()) if (!present.has(p)) this.#seen.delete(p);
    return queued;
  }

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.poll();
      await this.#o.clock.sleep(this.#o.interval, signal).catch(() => {});
    }
  }
}
