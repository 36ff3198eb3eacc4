/**
 * The upload queue and its sender. `queue()` stores a job in the spool
 * stream `s3.uploads` (with its progress, in one transaction) and returns at
 * once; `run(signal)` sends the oldest job, then the next:
 *
 * - up to `multipartThreshold` bytes: one PutObject (SHA-256 checksum);
 * - larger: a multipart upload with `parallel` parts at a time, each part
 *   read from disk into a reused buffer (memory: `parallel × partSize`, not
 *   the file), checksummed (SHA-256, signed and sent as
 *   `x-amz-checksum-sha256`). The upload id is stored before the first part
 *   and each part's ETag after it, so after `kill -9` or a power cut the
 *   sender asks S3 (ListParts) what it holds and sends only the rest.
 * - before every part and before completing, the file is checked against
 *   what was queued (size, mtime, inode, and a SHA-256 of its first and last
 *   64 KiB): a changed file fails the upload (`FileChanged`) and its
 *   multipart upload is aborted, so versions are never mixed.
 * - network errors, timeouts, 5xx and SlowDown are retried with full-jitter
 *   backoff (`backoff`), forever while the job is queued; any other S3 error
 *   fails the upload with S3's code in its status.
 * - `maxBandwidth` caps the bytes on the wire: one token bucket (`_pacer.ts`)
 *   shared by the parts in flight paces each body chunk by chunk.
 *
 * Events (`addEventListener`): `"done"`, `"failed"`, `"canceled"`, each a
 * `CustomEvent<Progress>`.
 */

import { fullJitter } from "../../backoff.ts";
import type { Clock } from "../../clock.ts";
import type { Logger } from "../../log/mod.ts";
import type { SpoolStream } from "../spool.ts";
import { S3Client, S3Error, sha256 } from "./client.ts";
import {
  type Job,
  newUploadId,
  partSizeFor,
  type Progress,
  readAt,
  sampleHash,
  type UploadState,
} from "./_job.ts";
import { Pacer } from "./_pacer.ts";

/** Options of {@linkcode Uploads}. */
export interface UploadsOptions {
  stream: SpoolStream;
  client: S3Client;
  clock: Clock;
  log: Logger;
  /** @default 8 MiB */
  multipartThreshold?: number;
  /** Smallest part size. @default 5 MiB */
  partSize?: number;
  /** @default 2 */
  parallel?: number;
  /** Most parts of one upload. @default 10000 */
  maxParts?: number;
  /** Bytes per second; 0 = none. @default 0 */
  maxBandwidth?: number;
  backoff?: { min: number; max: number };
  /** Multipart uploads older than this that no job owns are aborted (`sweep`, and per key). @default 1 day */
  abortAfter?: number;
  /** Finished uploads kept for `list()`. @default 100 */
  keepFinished?: number;
}

/** The error of an upload that cannot succeed (its code goes in the status). */
export class UploadError extends Error {
  override name = "UploadError";
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

const FINISHED: UploadState[] = ["done", "failed", "canceled"];

/** An upload's progress from the stream state (also from another process: the CLI). */
export function readProgress(stream: SpoolStream, id: string): Progress | undefined {
  const v = stream.state(`u:${id}`);
  return v ? JSON.parse(v) as Progress : undefined;
}

/** Every upload the stream knows, newest first. */
export function listProgress(stream: SpoolStream): Progress[] {
  const out: Progress[] = [];
  for (const [k, v] of Object.entries(stream.states())) {
    if (k.startsWith("u:")) out.push(JSON.parse(v) as Progress);
  }
  return out.sort((a, b) => b.createdAt - a.createdAt || (b.id < a.id ? -1 : 1));
}

/** Ask for an upload to stop (durable; the sender acts between parts). False when it is over. */
export function requestCancel(stream: SpoolStream, id: string): boolean {
  const p = readProgress(stream, id);
  if (!p) throw new RangeError(`No upload "${id}"`);
  if (FINISHED.includes(p.state)) return false;
  stream.setState({ [`x:${id}`]: "cancel" });
  return true;
}

/** What `queue()` takes: a file already checked by the caller (path allowed, regular). */
export interface QueueInput {
  bucket: string;
  key: string;
  file: string;
  contentType?: string;
  metadata?: Record<string, string>;
  deleteAfterUpload?: boolean;
  temp?: boolean;
  /** Use this upload id (data and streams name their copy after it). */
  id?: string;
}

export class Uploads extends EventTarget {
  readonly stream: SpoolStream;
  readonly #client: S3Client;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #threshold: number;
  readonly #partSize: number;
  readonly #parallel: number;
  readonly #maxParts: number;
  readonly #backoff: { min: number; max: number };
  readonly #abortAfter: number;
  readonly #keep: number;
  readonly #pacer: Pacer;
  /** Parts sent by this process (tests and the benchmark count re-sends). */
  partsSent = 0;

  constructor(o: UploadsOptions) {
    super();
    this.stream = o.stream;
    this.#client = o.client;
    this.#clock = o.clock;
    this.#log = o.log;
    this.#threshold = o.multipartThreshold ?? 8 * 1024 * 1024;
    this.#partSize = o.partSize ?? 5 * 1024 * 1024;
    this.#parallel = o.parallel ?? 2;
    this.#maxParts = o.maxParts ?? 10_000;
    this.#backoff = o.backoff ?? { min: 1000, max: 300_000 };
    this.#abortAfter = o.abortAfter ?? 86_400_000;
    this.#keep = o.keepFinished ?? 100;
    this.#pacer = new Pacer(o.maxBandwidth ?? 0, o.clock);
  }

  /** Queue a file: stat it, store the job and its progress; returns the upload id. */
  async queue(input: QueueInput): Promise<string> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(input.file, { read: true });
    } catch (e) {
      throw new TypeError(`Cannot read "${input.file}": ${(e as Error).message}`);
    }
    let job: Job;
    try {
      const st = await file.stat();
      if (!st.isFile) throw new TypeError(`"${input.file}" is not a regular file`);
      if (st.size > 5 * 1024 ** 4) throw new RangeError(`"${input.file}" is larger than 5 TiB`);
      const now = this.#clock.now();
      job = {
        id: input.id ?? newUploadId(),
        bucket: input.bucket,
        key: input.key,
        file: input.file,
        size: st.size,
        mtimeMs: st.mtime?.getTime() ?? 0,
        ino: st.ino,
        sample: await sampleHash(file, st.size),
        ...(input.contentType ? { contentType: input.contentType } : {}),
        ...(input.metadata ? { metadata: input.metadata } : {}),
        deleteAfterUpload: !!input.deleteAfterUpload,
        temp: !!input.temp,
        createdAt: now,
      };
    } finally {
      file.close();
    }
    const multipart = job.size > this.#threshold;
    const partSize = multipart ? partSizeFor(job.size, this.#partSize, this.#maxParts) : job.size;
    const progress: Progress = {
      id: job.id,
      state: "queued",
      bucket: job.bucket,
      key: job.key,
      ...(job.temp ? {} : { file: job.file }),
      size: job.size,
      sent: 0,
      parts: multipart ? Math.ceil(job.size / partSize) : 1,
      partsDone: 0,
      partSize,
      retries: 0,
      createdAt: job.createdAt,
      updatedAt: job.createdAt,
    };
    this.stream.append([{ data: JSON.stringify(job) }], {
      [`u:${job.id}`]: JSON.stringify(progress),
    });
    return job.id;
  }

  status(id: string): Progress | undefined {
    return readProgress(this.stream, id);
  }

  list(): Progress[] {
    return listProgress(this.stream);
  }

  cancel(id: string): boolean {
    return requestCancel(this.stream, id);
  }

  /** Send jobs until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    let attempt = 0;
    while (!signal.aborted) {
      const [rec] = this.stream.peek({ maxRecords: 1 });
      if (!rec) {
        await this.stream.changed(signal);
        continue;
      }
      const job = JSON.parse(rec.data) as Job;
      try {
        await this.#send(job, signal);
        attempt = 0;
        this.stream.ack(rec.id);
      } catch (e) {
        if (signal.aborted) return;
        if (e instanceof S3Error && e.retryable) {
          const wait = fullJitter(attempt++, this.#backoff);
          this.#update(
            job.id,
            (p) => ({ ...p, retries: p.retries + 1, code: e.code, error: e.message }),
          );
          this.stream.fail(e.message);
          this.#log.warn("S3 upload failed, retrying", { id: job.id, code: e.code, waitMs: wait });
          await this.#clock.sleep(wait, signal).catch(() => {});
          continue;
        }
        attempt = 0;
        const code = e instanceof S3Error || e instanceof UploadError ? e.code : "Error";
        const message = (e as Error).message;
        await this.#abortQuietly(job, signal);
        this.#finish(job, "failed", { code, error: message });
        this.stream.fail(message);
        this.stream.ack(rec.id, 1);
        this.#log.error("S3 upload failed", { id: job.id, key: job.key, code, error: message });
      }
    }
  }

  /** Send one job to the end (done or canceled); throws for failures. */
  async #send(job: Job, signal: AbortSignal): Promise<void> {
    const start = readProgress(this.stream, job.id);
    if (!start || FINISHED.includes(start.state)) return; // finished before a crash hid the ack
    if (this.#cancelRequested(job.id)) return this.#cancel(job, signal);
    this.#update(job.id, (p) => ({ ...p, state: "uploading" }));
    const headers: Record<string, string> = {};
    if (job.contentType) headers["content-type"] = job.contentType;
    for (const [k, v] of Object.entries(job.metadata ?? {})) headers[`x-amz-meta-${k}`] = v;
    const file = await this.#open(job);
    try {
      if (start.parts === 1 && job.size <= this.#threshold) {
        const body = new Uint8Array(job.size);
        await readAt(file, body, 0);
        await this.#check(job, file);
        const etag = await this.#client.putObject({
          bucket: job.bucket,
          key: job.key,
          body,
          headers,
          ...this.#pace,
          signal,
        });
        this.partsSent++;
        await this.#pacer.settle(signal);
        this.#finish(job, "done", { etag, sent: job.size, partsDone: 1 });
        return;
      }
      await this.#multipart(job, start, file, headers, signal);
    } finally {
      file.close();
    }
  }

  async #multipart(
    job: Job,
    start: Progress,
    file: Deno.FsFile,
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<void> {
    const { bucket, key } = job;
    const partSize = start.partSize;
    const count = start.parts;
    let uploadId = start.uploadId;
    const done = new Map<number, { etag: string; sha: string }>();
    const states = this.stream.states();
    if (uploadId) {
      try {
        const listed = await this.#client.listParts({ bucket, key, uploadId, signal });
        for (const p of listed) {
          const mine = states[`p:${job.id}:${p.partNumber}`];
          if (mine && p.size === this.#partLength(job.size, partSize, p.partNumber)) {
            const [etag, sha] = mine.split(" ");
            if (etag === p.etag) done.set(p.partNumber, { etag, sha: sha! });
          }
        }
        // A part S3 holds whose ETag this process never stored is sent again (it replaces it).
      } catch (e) {
        if (e instanceof S3Error && e.code === "NotImplemented") {
          // S3-compatible stores without ListParts (s3rver): trust the ETags stored after each part.
          for (const [k, v] of Object.entries(states)) {
            if (!k.startsWith(`p:${job.id}:`)) continue;
            const [etag, sha] = v.split(" ");
            done.set(Number(k.slice(`p:${job.id}:`.length)), { etag: etag!, sha: sha! });
          }
        } else if (e instanceof S3Error && e.code === "NoSuchUpload") {
          this.#log.warn("S3 multipart upload is gone; starting over", { id: job.id, uploadId });
          uploadId = undefined;
        } else throw e;
      }
    }
    if (!uploadId) {
      await this.#abortAbandoned(job, start.creatingAt, signal);
      this.#update(job.id, (p) => ({ ...p, creatingAt: this.#clock.now() }));
      uploadId = await this.#client.createMultipartUpload({ bucket, key, headers, signal });
      const id = uploadId;
      this.#update(job.id, (p) => ({ ...p, uploadId: id, sent: 0, partsDone: 0 }));
    }
    const todo: number[] = [];
    for (let n = 1; n <= count; n++) if (!done.has(n)) todo.push(n);
    let sent = 0;
    for (const [n] of done) sent += this.#partLength(job.size, partSize, n);
    this.#update(job.id, (p) => ({ ...p, sent, partsDone: done.size }));
    const stop = new AbortController();
    const both = AbortSignal.any([signal, stop.signal]);
    let failure: unknown;
    const worker = async () => {
      const own = await this.#open(job);
      const buf = new Uint8Array(partSize);
      try {
        for (let n = todo.shift(); n !== undefined && !both.aborted; n = todo.shift()) {
          if (this.#cancelRequested(job.id)) throw new _Canceled();
          await this.#check(job, own);
          const len = this.#partLength(job.size, partSize, n);
          const body = buf.subarray(0, len);
          if (await readAt(own, body, (n - 1) * partSize) !== len) {
            throw new UploadError(
              "FileChanged",
              `"${job.file}" is shorter than when it was queued`,
            );
          }
          const sha = await sha256(body);
          const etag = await this.#sendPart(job, uploadId!, n, body, sha, both);
          done.set(n, { etag, sha: sha.b64 });
          sent += len;
          const upd = { sent, partsDone: done.size };
          this.#update(job.id, (p) => ({ ...p, ...upd }), {
            [`p:${job.id}:${n}`]: `${etag} ${sha.b64}`,
          });
        }
      } catch (e) {
        failure ??= e;
        stop.abort();
      } finally {
        own.close();
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#parallel, todo.length) }, worker));
    if (failure instanceof _Canceled) return this.#cancel(job, signal);
    if (failure) throw failure;
    if (signal.aborted) throw signal.reason;
    await this.#check(job, file, true);
    await this.#pacer.settle(signal);
    const parts = [...done].map(([partNumber, p]) => ({ partNumber, etag: p.etag, sha256: p.sha }));
    const etag = await this.#client.completeMultipartUpload({
      bucket,
      key,
      uploadId: uploadId!,
      parts,
      signal,
    });
    this.#finish(job, "done", { etag, sent: job.size, partsDone: count });
  }

  /** One part, retried in place for retryable errors (the job's retries count them). */
  async #sendPart(
    job: Job,
    uploadId: string,
    n: number,
    body: Uint8Array,
    sha: { hex: string; b64: string },
    signal: AbortSignal,
  ): Promise<string> {
    for (let attempt = 0;; attempt++) {
      try {
        this.partsSent++;
        return await this.#client.uploadPart({
          bucket: job.bucket,
          key: job.key,
          uploadId,
          partNumber: n,
          body,
          sha,
          ...this.#pace,
          signal,
        });
      } catch (e) {
        if (signal.aborted || !(e instanceof S3Error) || !e.retryable) throw e;
        const wait = fullJitter(attempt, this.#backoff);
        this.#update(
          job.id,
          (p) => ({ ...p, retries: p.retries + 1, code: e.code, error: e.message }),
        );
        this.stream.fail(e.message);
        this.#log.warn("S3 part failed, retrying", {
          id: job.id,
          part: n,
          code: e.code,
          waitMs: wait,
        });
        await this.#clock.sleep(wait, signal);
      }
    }
  }

  /** The cap on request bodies, when there is one. */
  get #pace(): { pace?: Pacer } {
    return this.#pacer.enabled ? { pace: this.#pacer } : {};
  }

  #partLength(size: number, partSize: number, n: number): number {
    return Math.min(partSize, size - (n - 1) * partSize);
  }

  async #open(job: Job): Promise<Deno.FsFile> {
    try {
      return await Deno.open(job.file, { read: true });
    } catch (e) {
      throw new UploadError(
        e instanceof Deno.errors.NotFound ? "FileMissing" : "FileUnreadable",
        `Cannot read "${job.file}": ${(e as Error).message}`,
      );
    }
  }

  /** Fail with FileChanged unless the file is as queued (`full`: also its sampled hash). */
  async #check(job: Job, file: Deno.FsFile, full = false): Promise<void> {
    let st: Deno.FileInfo;
    try {
      st = await Deno.stat(job.file);
    } catch (e) {
      throw new UploadError("FileMissing", `"${job.file}" is gone: ${(e as Error).message}`);
    }
    const mtime = st.mtime?.getTime() ?? 0;
    const what = st.size !== job.size
      ? `size ${job.size} → ${st.size}`
      : mtime !== job.mtimeMs
      ? "modification time"
      : job.ino !== null && st.ino !== job.ino
      ? "inode (replaced)"
      : full && await sampleHash(file, job.size) !== job.sample
      ? "content"
      : undefined;
    if (what) {
      throw new UploadError(
        "FileChanged",
        `"${job.file}" changed since it was queued (${what}); not uploaded`,
      );
    }
  }

  #cancelRequested(id: string): boolean {
    return this.stream.state(`x:${id}`) === "cancel";
  }

  async #cancel(job: Job, signal: AbortSignal): Promise<void> {
    await this.#abortQuietly(job, signal);
    this.#finish(job, "canceled", {});
  }

  async #abortQuietly(job: Job, signal: AbortSignal): Promise<void> {
    const uploadId = readProgress(this.stream, job.id)?.uploadId;
    if (!uploadId) return;
    try {
      await this.#client.abortMultipartUpload({
        bucket: job.bucket,
        key: job.key,
        uploadId,
        signal,
      });
    } catch (e) {
      this.#log.warn("Could not abort the S3 multipart upload (S3 lifecycle rules remove it)", {
        id: job.id,
        error: (e as Error).message,
      });
    }
  }

  /**
   * Multipart uploads of this key that no job owns: the one a crash left
   * between CreateMultipartUpload and storing its id (initiated after
   * `creatingAt`), and any older than `abortAfter`.
   */
  async #abortAbandoned(job: Job, creatingAt: number | undefined, signal: AbortSignal) {
    let uploads: { key: string; uploadId: string; initiated: number }[];
    try {
      uploads = await this.#client.listMultipartUploads({
        bucket: job.bucket,
        prefix: job.key,
        signal,
      });
    } catch (e) {
      if (e instanceof S3Error && !e.retryable) return; // no ListBucketMultipartUploads permission
      throw e;
    }
    const owned = new Set(
      listProgress(this.stream).filter((p) => !FINISHED.includes(p.state) && p.uploadId).map((p) =>
        p.uploadId
      ),
    );
    const now = this.#clock.now();
    for (const u of uploads) {
      if (u.key !== job.key || owned.has(u.uploadId)) continue;
      const ours = creatingAt !== undefined && u.initiated >= creatingAt - 300_000;
      if (!ours && now - u.initiated < this.#abortAfter) continue;
      await this.#client.abortMultipartUpload({
        bucket: job.bucket,
        key: job.key,
        uploadId: u.uploadId,
        signal,
      });
      this.#log.info("Aborted an abandoned S3 multipart upload", {
        key: u.key,
        uploadId: u.uploadId,
      });
    }
  }

  /**
   * The sweep of abandoned multipart uploads: every multipart upload under
   * `prefix` in `bucket` (ListMultipartUploads, all pages) initiated more than
   * `abortAfter` ago that no unfinished upload of this queue owns is aborted
   * (a crash that lost its id, a job canceled while S3 was unreachable, an
   * older install). Returns how many were aborted. Throws the S3Error of the
   * listing (AccessDenied without ListBucketMultipartUploads, NotImplemented).
   */
  async sweep(bucket: string, prefix: string, signal?: AbortSignal): Promise<number> {
    const uploads = await this.#client.listMultipartUploads({
      bucket,
      prefix,
      ...(signal ? { signal } : {}),
    });
    const owned = new Set(
      listProgress(this.stream).filter((p) => !FINISHED.includes(p.state)).map((p) => p.uploadId),
    );
    const now = this.#clock.now();
    let aborted = 0;
    for (const u of uploads) {
      if (owned.has(u.uploadId) || now - u.initiated < this.#abortAfter) continue;
      await this.#client.abortMultipartUpload({
        bucket,
        key: u.key,
        uploadId: u.uploadId,
        ...(signal ? { signal } : {}),
      });
      aborted++;
      this.#log.info("Aborted an abandoned S3 multipart upload", {
        bucket,
        key: u.key,
        uploadId: u.uploadId,
        initiated: new Date(u.initiated).toISOString(),
      });
    }
    return aborted;
  }

  #update(id: string, f: (p: Progress) => Progress, extra: Record<string, string | null> = {}) {
    const p = readProgress(this.stream, id);
    if (!p) return;
    const next = { ...f(p), updatedAt: this.#clock.now() };
    this.stream.setState({ ...extra, [`u:${id}`]: JSON.stringify(next) });
  }

  /** Record the end of an upload: final progress, part keys removed, old entries pruned, event. */
  #finish(job: Job, state: UploadState, fields: Partial<Progress>): void {
    const states = this.stream.states();
    const drop: Record<string, null> = { [`x:${job.id}`]: null };
    for (const k of Object.keys(states)) if (k.startsWith(`p:${job.id}:`)) drop[k] = null;
    const finished = listProgress(this.stream).filter((p) => FINISHED.includes(p.state));
    for (const p of finished.slice(Math.max(0, this.#keep - 1))) drop[`u:${p.id}`] = null;
    const before = readProgress(this.stream, job.id)!;
    const p: Progress = { ...before, ...fields, state, updatedAt: this.#clock.now() };
    if (state === "done") delete p.code, delete p.error;
    this.stream.setState({ ...drop, [`u:${job.id}`]: JSON.stringify(p) });
    if (job.temp || (state === "done" && job.deleteAfterUpload)) {
      Deno.remove(job.file).catch(() => {});
    }
    if (state === "done") {
      this.#log.info("S3 upload done", {
        id: job.id,
        bucket: job.bucket,
        key: job.key,
        size: job.size,
      });
    }
    this.dispatchEvent(new CustomEvent<Progress>(state, { detail: p }));
  }
}

class _Canceled extends Error {}
