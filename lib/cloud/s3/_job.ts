/**
 * What the upload queue stores: a job (the spool record, written once when
 * the upload is queued) and its progress (spool stream state, rewritten
 * after every part). Stored in the spool stream `s3.uploads`:
 *
 * - record data: `Job` as JSON.
 * - state `u:{id}`: `Progress` as JSON (kept after the end for `list`, the
 *   newest `keepFinished`).
 * - state `p:{id}:{n}`: part n is in S3: `"{etag} {sha256 base64}"`; deleted
 *   when the upload ends.
 * - state `x:{id}`: `"cancel"` — a cancel request (from the API or the CLI,
 *   another process), read by the sender between parts.
 *
 * Units: bytes, ms since the epoch.
 */

/** One queued upload, as stored when it was queued. */
export interface Job {
  id: string;
  bucket: string;
  key: string;
  /** Absolute path of the file (for data and streams: their copy in the state directory). */
  file: string;
  size: number;
  /** Identity of the file when it was queued: a changed file fails the upload. */
  mtimeMs: number;
  ino: number | null;
  /** SHA-256 (hex) of the file's first and last 64 KiB when queued. */
  sample: string;
  contentType?: string;
  metadata?: Record<string, string>;
  deleteAfterUpload: boolean;
  /** The file is the agent's own copy (data or a stream): deleted when the upload ends. */
  temp: boolean;
  createdAt: number;
}

export type UploadState = "queued" | "uploading" | "done" | "failed" | "canceled";

/** What `status(id)` answers. */
export interface Progress {
  id: string;
  state: UploadState;
  bucket: string;
  key: string;
  /** The source file (absent for data and streams). */
  file?: string;
  size: number;
  /** Bytes in S3 so far (completed parts). */
  sent: number;
  /** Parts in all (1 for a single PutObject) and done. */
  parts: number;
  partsDone: number;
  partSize: number;
  /** The multipart upload's id, once created. */
  uploadId?: string;
  /** Set just before CreateMultipartUpload: a crash before the id was stored leaves an upload to abort. */
  creatingAt?: number;
  /** Attempts that failed and were retried. */
  retries: number;
  /** S3's error code of the failure (or the last retried error). */
  code?: string;
  error?: string;
  etag?: string;
  createdAt: number;
  updatedAt: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;
/** S3 limits: parts of 5 MiB to 5 GiB, at most 10,000 parts, objects up to 5 TiB. */
export const MIN_PART = 5 * MiB;
export const MAX_PART = 5 * 1024 * MiB;
export const MAX_PARTS = 10_000;
export const MAX_OBJECT = 5 * 1024 * 1024 * MiB;

/**
 * Part size for a file of `size` bytes: `min` (at least 5 MiB) unless that
 * gives more than `maxParts` parts (S3: 10,000), then the smallest whole
 * number of MiB that fits — memory is `parallel × partSize`, so parts stay
 * as small as the limit allows. RangeError when even 5 GiB parts do not fit.
 */
export function partSizeFor(size: number, min: number, maxParts = MAX_PARTS): number {
  const needed = Math.ceil(size / maxParts / MiB) * MiB;
  const part = Math.max(min, MIN_PART, needed);
  if (part > MAX_PART) {
    throw new RangeError(`${size} bytes do not fit in ${maxParts} parts of at most 5 GiB`);
  }
  return part;
}

/** SHA-256 (hex) of the first and last 64 KiB of an open file of `size` bytes. */
export async function sampleHash(file: Deno.FsFile, size: number): Promise<string> {
  const n = Math.min(size, 64 * KiB);
  const buf = new Uint8Array(n * 2);
  await readAt(file, buf.subarray(0, n), 0);
  await readAt(file, buf.subarray(n), Math.max(0, size - n));
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Fill `buf` from `offset` (short only at end of file); returns the bytes read. */
export async function readAt(file: Deno.FsFile, buf: Uint8Array, offset: number): Promise<number> {
  await file.seek(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < buf.length) {
    const n = await file.read(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return got;
}

/** A new upload id: 16 hex digits, random. */
export function newUploadId(): string {
  const b = crypto.getRandomValues(new Uint8Array(8));
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}
