/**
 * The "cloud.s3" service: durable, resumable uploads to S3 (docs/s3.md).
 *
 * ```ts
 * const s3 = agent.get<S3Service>("cloud.s3");
 * const id = await s3.upload({ file: "/data/camera/0001.jpg", key: "cam/0001.jpg" });
 * s3.status(id);   // { state: "uploading", sent: 16777216, size: 52428800, … }
 * s3.addEventListener("done", (e) => console.log((e as CustomEvent).detail.key));
 * ```
 *
 * `upload()` returns once the upload is queued durably (in the spool stream
 * `s3.uploads`): a file is checked (inside `cloud.s3.directories`, a
 * regular file) and its size, mtime and a sampled hash recorded; data and
 * streams are first written to `{stateDir}/uploads/{id}` (fsynced) and
 * deleted when their upload ends. Watched directories (`cloud.s3.watch`)
 * queue each new file once it is unchanged for `settle` ms.
 */

import type { AwsCredentialProvider, AwsService } from "../../aws/mod.ts";
import type { MqttService } from "../../mqtt/mod.ts";
import type { Config } from "../../config/mod.ts";
import type { DatabaseService } from "../../db/mod.ts";
import { HttpClient, httpClientOptions } from "../../http/mod.ts";
import { join, resolve } from "../../path.ts";
import type { Service, ServiceContext, ServiceFactory } from "../../service.ts";
import { ServiceConfigError, serviceThing } from "../../service.ts";
import { Spool } from "../spool.ts";
import { type Presigner, S3Client } from "./client.ts";
import { mqttPresigner } from "./presign.ts";
import { type Job, newUploadId, type Progress } from "./_job.ts";
import { Uploads } from "./uploads.ts";
import { DirectoryWatch } from "./watch.ts";

/** The spool stream of the upload queue. */
export const UPLOAD_STREAM = "s3.uploads";

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const META_KEY = /^[a-z0-9][a-z0-9_-]{0,127}$/;

/** What `upload()` takes: exactly one of `file`, `data`, `stream`. */
export interface UploadInput {
  /** A file inside `cloud.s3.directories` (absolute, or relative to the config dir). */
  file?: string;
  data?: string | Uint8Array;
  stream?: ReadableStream<Uint8Array>;
  /** @default cloud.s3.bucket */
  bucket?: string;
  key: string;
  contentType?: string;
  /** User metadata (`x-amz-meta-*`): lowercase names, printable ASCII values, 2 KB in all. */
  metadata?: Record<string, string>;
  /** @default cloud.s3.deleteAfterUpload (files only) */
  deleteAfterUpload?: boolean;
}

/** Check an upload's fields; throws TypeError/RangeError naming the field. */
export function checkUploadInput(input: UploadInput, defaultBucket: string | undefined): string {
  const sources = [input.file, input.data, input.stream].filter((v) => v !== undefined).length;
  if (sources !== 1) throw new TypeError('Give exactly one of "file", "data" or "stream"');
  const bucket = input.bucket ?? defaultBucket;
  if (!bucket) throw new TypeError('No "bucket" given and no cloud.s3.bucket configured');
  if (!BUCKET.test(bucket)) throw new TypeError(`Bad bucket name "${bucket}"`);
  if (typeof input.key !== "string" || input.key.length === 0) {
    throw new TypeError('"key" must be a non-empty string');
  }
  if (new TextEncoder().encode(input.key).length > 1024) {
    throw new RangeError('"key" is longer than 1024 bytes');
  }
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(input.key)) throw new TypeError('"key" has control characters');
  if (input.contentType !== undefined) {
    if (typeof input.contentType !== "string" || !/^[\x20-\x7e]{1,256}$/.test(input.contentType)) {
      throw new TypeError('"contentType" must be printable ASCII, at most 256 characters');
    }
  }
  if (input.metadata !== undefined) {
    if (typeof input.metadata !== "object" || input.metadata === null) {
      throw new TypeError('"metadata" must be an object of strings');
    }
    let size = 0;
    for (const [k, v] of Object.entries(input.metadata)) {
      if (!META_KEY.test(k)) throw new TypeError(`Bad metadata name "${k}" (a-z 0-9 _ -)`);
      if (typeof v !== "string" || !/^[\x20-\x7e]*$/.test(v)) {
        throw new TypeError(`Metadata "${k}" must be printable ASCII`);
      }
      size += k.length + v.length;
    }
    if (size > 2048) throw new RangeError("Metadata is larger than 2 KB");
  }
  return bucket;
}

export class S3Service extends EventTarget implements Service {
  readonly #ctx: ServiceContext;
  readonly #stop = new AbortController();
  readonly #loops: Promise<void>[] = [];
  #uploads: Uploads | undefined;
  #client: S3Client | undefined;
  #http: HttpClient | undefined;
  #dirs: string[] = [];
  #watches: DirectoryWatch[] = [];

  constructor(ctx: ServiceContext) {
    super();
    this.#ctx = ctx;
  }

  get #u(): Uploads {
    if (!this.#uploads) throw new Error('The "cloud.s3" service is not started');
    return this.#uploads;
  }

  /** The queue (tests and the benchmark). */
  get uploads(): Uploads {
    return this.#u;
  }

  async start(_signal: AbortSignal): Promise<void> {
    const ctx = this.#ctx;
    const config = ctx.config;
    const s3 = config.cloud.s3;
    // Presigned mode: the URLs carry their region; the client never signs.
    const region = s3.region ?? config.aws.region ??
      (s3.presigned.enabled ? "us-east-1" : undefined);
    if (!region) {
      throw new ServiceConfigError('cloud.s3 needs a region ("cloud.s3.region" or "aws.region")');
    }
    let credentials: AwsCredentialProvider = () =>
      Promise.reject(new Error("Presigned mode holds no S3 credentials"));
    let presign: Presigner | undefined;
    if (s3.presigned.enabled) {
      let mqtt: MqttService;
      try {
        mqtt = ctx.get<MqttService>("mqtt");
      } catch {
        throw new ServiceConfigError("cloud.s3.presigned needs MQTT (mqtt.enabled)");
      }
      presign = mqttPresigner(mqtt.client, s3.presigned.topic, s3.presigned.timeout);
    } else {
      try {
        credentials = ctx.get<AwsService>("aws").provider;
      } catch {
        throw new ServiceConfigError(
          'cloud.s3 needs AWS credentials ("aws.credentials", "aws.useEnv" or "aws.iot") or presigned mode',
        );
      }
    }
    const db = ctx.get<DatabaseService>("database").db;
    const spool = Spool.of(db, { clock: ctx.clock, log: ctx.log.child("spool") });
    const stream = spool.stream(UPLOAD_STREAM, {
      maxRecords: s3.maxQueued,
      maxBytes: config.cloud.spool.maxBytes,
    });
    // The agent's HTTP settings (proxy, extra CA) for every S3 request, small or large.
    this.#http = new HttpClient({
      ...await httpClientOptions(config.http, { configDir: ctx.configDir, clock: ctx.clock }),
      retries: 0,
    });
    this.#client = new S3Client({
      region,
      credentials,
      http: this.#http,
      requestTimeout: s3.requestTimeout,
      ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
      ...(presign ? { presign } : {}),
    });
    const uploads = this.#uploads = new Uploads({
      stream,
      client: this.#client,
      clock: ctx.clock,
      log: ctx.log,
      multipartThreshold: s3.multipartThreshold,
      partSize: s3.partSize,
      parallel: s3.parallel,
      maxParts: s3.maxParts,
      maxBandwidth: s3.maxBandwidth,
      backoff: s3.backoff,
      abortAfter: s3.abortAfter,
      keepFinished: s3.keepFinished,
    });
    for (const type of ["done", "failed", "canceled"]) {
      uploads.addEventListener(type, (e) => {
        this.dispatchEvent(new CustomEvent(type, { detail: (e as CustomEvent<Progress>).detail }));
      });
    }
    this.#dirs = await Promise.all(
      [...s3.directories, ...s3.watch.map((w) => w.path)].map((d) =>
        Deno.realPath(resolve(ctx.configDir, d)).catch(() => resolve(ctx.configDir, d))
      ),
    );
    await this.#cleanTemp();
    const signal = this.#stop.signal;
    this.#loops.push(uploads.run(signal));
    for (const w of s3.watch) {
      const bucket = w.bucket ?? s3.bucket;
      if (!bucket) throw new ServiceConfigError(`cloud.s3.watch "${w.path}" needs a bucket`);
      const watch = new DirectoryWatch({
        dir: resolve(ctx.configDir, w.path),
        stream,
        clock: ctx.clock,
        log: ctx.log,
        settle: w.settle,
        interval: w.interval,
        ...(w.pattern ? { pattern: new RegExp(w.pattern) } : {}),
        queue: (file, name) =>
          uploads.queue({
            file,
            bucket,
            key: this.#expand(w.key, name),
            deleteAfterUpload: w.deleteAfterUpload,
            ...(w.contentType ? { contentType: w.contentType } : {}),
          }),
      });
      this.#watches.push(watch);
      this.#loops.push(watch.run(signal));
    }
    if (s3.sweepEvery > 0) this.#loops.push(this.#sweep(signal));
    ctx.log.info("S3 uploads started", {
      endpoint: s3.endpoint ?? `s3.${region}.amazonaws.com`,
      queued: stream.backlog,
      watching: s3.watch.length,
    });
  }

  /** A key template with {thing}, {device}, {file}, {date} (UTC) filled in. */
  #expand(template: string, file = ""): string {
    const ctx = this.#ctx;
    const thing = serviceThing(ctx);
    return template.replace(
      /\{(thing|device|file|date)\}/g,
      (_, p) =>
        p === "thing"
          ? thing
          : p === "device"
          ? ctx.deviceId
          : p === "file"
          ? file
          : new Date(ctx.clock.now()).toISOString().slice(0, 10),
    );
  }

  /**
   * Every `sweepEvery` ms (the first at start): abort the abandoned multipart
   * uploads under `sweepPrefix` in the configured buckets. A bucket whose
   * listing is refused (no ListBucketMultipartUploads, a store without it) is
   * logged once and tried again next time.
   */
  async #sweep(signal: AbortSignal): Promise<void> {
    const s3 = this.#ctx.config.cloud.s3;
    const buckets = [...new Set([s3.bucket, ...s3.watch.map((w) => w.bucket)])].filter((b) =>
      b !== undefined
    );
    const prefix = this.#expand(s3.sweepPrefix);
    const refused = new Set<string>();
    while (!signal.aborted) {
      for (const bucket of buckets) {
        try {
          const n = await this.#u.sweep(bucket, prefix, signal);
          refused.delete(bucket);
          this.sweeps++;
          this.swept += n;
        } catch (e) {
          if (signal.aborted) return;
          if (!refused.has(bucket)) {
            refused.add(bucket);
            this.#ctx.log.warn("Cannot sweep abandoned S3 multipart uploads", {
              bucket,
              prefix,
              code: (e as { code?: string }).code,
              error: (e as Error).message,
            });
          }
        }
      }
      await this.#ctx.clock.sleep(s3.sweepEvery, signal).catch(() => {});
    }
  }

  /** Sweeps done and multipart uploads they aborted (status, tests). */
  sweeps = 0;
  swept = 0;

  /** Where data and streams are copied before they are queued. */
  get #tempDir(): string {
    return join(this.#ctx.stateDir, "uploads");
  }

  /** Delete copies no queued job refers to (a crash between the copy and the queueing). */
  async #cleanTemp(): Promise<void> {
    const queued = new Set(
      this.#u.stream.peek({ maxRecords: 1_000_000 }).map((r) => (JSON.parse(r.data) as Job).file),
    );
    try {
      for await (const e of Deno.readDir(this.#tempDir)) {
        const p = join(this.#tempDir, e.name);
        if (!queued.has(p)) await Deno.remove(p).catch(() => {});
      }
    } catch { /* no directory yet */ }
  }

  /**
   * Queue an upload; resolves with its id once it is stored durably (for a
   * stream: once the stream is copied to disk). Bad input throws TypeError or
   * RangeError and queues nothing.
   */
  async upload(input: UploadInput): Promise<string> {
    const u = this.#u;
    const s3 = this.#ctx.config.cloud.s3;
    const bucket = checkUploadInput(input, s3.bucket);
    const common = {
      bucket,
      key: input.key,
      ...(input.contentType ? { contentType: input.contentType } : {}),
      ...(input.metadata ? { metadata: input.metadata } : {}),
    };
    if (input.file !== undefined) {
      if (typeof input.file !== "string" || !input.file) {
        throw new TypeError('"file" must be a path');
      }
      const file = await this.#allowed(resolve(this.#ctx.configDir, input.file));
      return u.queue({
        ...common,
        file,
        deleteAfterUpload: input.deleteAfterUpload ?? s3.deleteAfterUpload,
      });
    }
    const id = newUploadId();
    await Deno.mkdir(this.#tempDir, { recursive: true, mode: 0o700 });
    const path = join(this.#tempDir, id);
    const tmp = `${path}.tmp`;
    const f = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
    try {
      if (input.data !== undefined) {
        const bytes = typeof input.data === "string"
          ? new TextEncoder().encode(input.data)
          : input.data;
        if (!(bytes instanceof Uint8Array)) throw new TypeError('"data" must be a string or bytes');
        let off = 0;
        while (off < bytes.length) off += await f.write(bytes.subarray(off));
      } else {
        if (!(input.stream instanceof ReadableStream)) {
          throw new TypeError('"stream" must be a ReadableStream');
        }
        for await (const chunk of input.stream) {
          let off = 0;
          while (off < chunk.length) off += await f.write(chunk.subarray(off));
        }
      }
      await f.sync();
    } catch (e) {
      f.close();
      await Deno.remove(tmp).catch(() => {});
      throw e;
    }
    f.close();
    await Deno.rename(tmp, path);
    return u.queue({ ...common, file: path, temp: true, id });
  }

  /** The real path of `file` when it lies inside an upload directory; else RangeError. */
  async #allowed(file: string): Promise<string> {
    let real: string;
    try {
      real = await Deno.realPath(file);
    } catch (e) {
      throw new TypeError(`Cannot read "${file}": ${(e as Error).message}`);
    }
    if (!this.#dirs.some((d) => real === d || real.startsWith(d.endsWith("/") ? d : `${d}/`))) {
      throw new RangeError(
        `"${file}" is not inside an upload directory (cloud.s3.directories: ${
          this.#dirs.join(", ") || "none"
        })`,
      );
    }
    return real;
  }

  status(): Record<string, unknown>;
  status(id: string): Progress | undefined;
  status(id?: string): Record<string, unknown> | Progress | undefined {
    if (id !== undefined) return this.#u.status(id);
    if (!this.#uploads) return { spool: [] };
    const list = this.#uploads.list();
    const count = (s: string) => list.filter((p) => p.state === s).length;
    return {
      spool: [this.#uploads.stream.status()],
      queued: count("queued"),
      uploading: count("uploading"),
      failed: count("failed"),
      abandonedAborted: this.swept,
    };
  }

  list(): Progress[] {
    return this.#u.list();
  }

  /** Cancel a waiting or running upload; false when it had already ended. RangeError: no such id. */
  cancel(id: string): boolean {
    return this.#u.cancel(id);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#stop.abort();
    await Promise.allSettled(this.#loops);
    try {
      this.#client?.close();
      this.#http?.close();
    } catch { /* closed */ }
  }
}

export function s3Enabled(config: Config): boolean {
  return config.cloud.s3.enabled;
}

/** Factory for `lib/services.ts` (loaded lazily). */
export const s3Service: ServiceFactory = {
  name: "cloud.s3",
  deps: ["database", "aws", "mqtt", "provision"], // provision: {thing}, when it is on
  enabled: s3Enabled,
  create: (ctx) => new S3Service(ctx),
};
