/**
 * Resumable download of a release to `PATH` (a `.part` file in the state
 * directory), in constant memory, through the agent's HTTP client
 * (lib/http):
 *
 * - Resumes with `Range: bytes=N-` where N is the smaller of the file's
 *   length and the last durable offset (`durable`, stored in SQLite after
 *   each fsync, every `syncEvery` bytes), so a power cut that lost the file's
 *   tail is redone; a server that answers 200 instead of 206 restarts at 0.
 * - A cut (network error, stall, 5xx, 429) is retried with full-jitter
 *   backoff from where it stopped; a 403 (a presigned URL that expired)
 *   asks `refreshUrl` for a new one; other 4xx fail for good.
 * - `bandwidth` bytes/s caps the average rate (0: none); free disk is
 *   checked before the first byte (`Deno.statfs` through node:fs).
 * - The SHA-256 is computed by reading the finished file back in 1 MiB
 *   chunks (node:crypto's incremental hash), never the whole file in memory.
 */

import { createHash } from "node:crypto";
import { statfsSync } from "node:fs";
import { fullJitter } from "../../backoff.ts";
import type { Clock } from "../../clock.ts";
import { HttpError } from "../../http/mod.ts";
import type { HttpClient } from "../../http/mod.ts";
import { dirname } from "../../path.ts";

export interface DownloadOptions {
  http: HttpClient;
  clock: Clock;
  url: string;
  path: string;
  size: number;
  /** Bytes known to be on disk (fsynced) from an earlier attempt. */
  durable: number;
  /** Bytes per second; 0: unlimited. @default 0 */
  bandwidth?: number;
  /** fsync and report progress every this many bytes. @default 1 MiB */
  syncEvery?: number;
  /** Free disk to keep beyond the file. @default 0 */
  reserve?: number;
  backoff: { min: number; max: number };
  /** Called after each fsync with the durable length. */
  onProgress?: (bytes: number) => void;
  /** A fresh URL when the current one is refused with 403 (an expired presigned URL). */
  refreshUrl?: () => Promise<string>;
  signal: AbortSignal;
}

/** A download that cannot succeed by retrying (404, not enough disk, too many bytes). */
export class DownloadError extends Error {
  override name = "DownloadError";
  readonly reason: string;
  constructor(reason: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
  }
}

/** Free bytes for an unprivileged user on the file system holding `path`. */
export function freeBytes(path: string): number {
  const s = statfsSync(path);
  return Number(s.bavail) * Number(s.bsize);
}

/** Download to `options.path`; resolves with the file's length (= size). */
export async function download(o: DownloadOptions): Promise<number> {
  const syncEvery = o.syncEvery ?? 1024 * 1024;
  let length = 0;
  try {
    length = (await Deno.stat(o.path)).size;
  } catch { /* no file yet */ }
  let offset = Math.min(length, o.durable);
  if (offset > o.size) offset = 0;
  const need = o.size - offset + (o.reserve ?? 0);
  const free = freeBytes(dirname(o.path));
  if (free < need) {
    throw new DownloadError(
      "no-disk",
      `Not enough free disk for the download: ${need} bytes needed, ${free} free`,
    );
  }
  let url = o.url;
  let attempt = 0;
  let durable = offset;
  const synced = (n: number) => {
    durable = n;
    o.onProgress?.(n);
  };
  while (offset < o.size) {
    o.signal.throwIfAborted();
    try {
      offset = await _fetchFrom(o, url, offset, syncEvery, synced);
      attempt = 0;
    } catch (e) {
      if (o.signal.aborted) throw o.signal.reason;
      if (e instanceof DownloadError) throw e;
      const status = e instanceof HttpError ? e.status : undefined;
      if (status === 416) {
        const total = Number(
          /\/(\d+)$/.exec((e as HttpError).headers?.get("content-range") ?? "")?.[1] ?? NaN,
        );
        if (Number.isFinite(total) && total !== o.size) {
          throw new DownloadError(
            "size-mismatch",
            `The release is ${total} bytes, the job says ${o.size}: refused`,
          );
        }
        await Deno.remove(o.path).catch(() => {}); // the part is stale
      } else if (status === 403 && o.refreshUrl) url = await o.refreshUrl();
      else if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
        throw new DownloadError("download-refused", (e as Error).message, { cause: e });
      }
      try {
        offset = Math.min((await Deno.stat(o.path)).size, durable);
      } catch {
        offset = 0;
      }
      durable = offset;
      await o.clock.sleep(fullJitter(attempt++, o.backoff), o.signal);
    }
  }
  return offset;
}

async function _fetchFrom(
  o: DownloadOptions,
  url: string,
  from: number,
  syncEvery: number,
  synced: (bytes: number) => void,
): Promise<number> {
  const headers: Record<string, string> = from > 0 ? { range: `bytes=${from}-` } : {};
  const res = await o.http.fetch(url, {
    headers,
    signal: o.signal,
    timeoutMs: 0,
    retries: 0,
  });
  let offset = from;
  if (from > 0 && res.status !== 206) offset = 0; // the server ignored the range
  let total = Number(res.headers.get("content-length") ?? NaN);
  if (res.status === 206) {
    const cr = res.headers.get("content-range") ?? "";
    if (!cr.startsWith(`bytes ${from}-`)) {
      await res.body?.cancel();
      throw new Error(`Unexpected Content-Range "${cr}" for bytes=${from}-`);
    }
    total = Number(/\/(\d+)$/.exec(cr)?.[1] ?? NaN);
  }
  if (Number.isFinite(total) && total !== o.size) {
    await res.body?.cancel();
    throw new DownloadError(
      "size-mismatch",
      `The release is ${total} bytes, the job says ${o.size}: refused`,
    );
  }
  const f = await Deno.open(o.path, { write: true, create: true, mode: 0o600 });
  try {
    await f.truncate(offset);
    await f.seek(offset, Deno.SeekMode.Start);
    let unsynced = 0;
    const t0 = o.clock.now();
    let sent = 0;
    for await (const chunk of res.body!) {
      if (offset + chunk.length > o.size) {
        throw new DownloadError(
          "size-mismatch",
          `The download is longer than the job's size of ${o.size} bytes`,
        );
      }
      let w = 0;
      while (w < chunk.length) w += await f.write(chunk.subarray(w));
      offset += chunk.length;
      unsynced += chunk.length;
      sent += chunk.length;
      if (unsynced >= syncEvery) {
        await f.sync();
        unsynced = 0;
        synced(offset);
      }
      if (o.bandwidth) {
        const ahead = (sent / o.bandwidth) * 1000 - (o.clock.now() - t0);
        if (ahead > 5) await o.clock.sleep(ahead, o.signal);
      }
    }
    await f.sync();
    synced(offset);
  } finally {
    f.close();
  }
  if (offset < o.size) throw new Error(`The download ended at ${offset} of ${o.size} bytes`);
  return offset;
}

/** Lower-case hex SHA-256 of a file, read in 1 MiB chunks. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  using f = await Deno.open(path, { read: true });
  const buf = new Uint8Array(1024 * 1024);
  for (;;) {
    const n = await f.read(buf);
    if (n === null) break;
    h.update(buf.subarray(0, n));
  }
  return h.digest("hex");
}
