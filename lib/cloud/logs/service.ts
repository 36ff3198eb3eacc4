/**
 * The "cloud.logs" service: CloudWatch Logs for the agent's own log, the
 * device application (`write(name, message)`), followed files and the
 * journal. Each source has its own spool stream (`logs.agent`, `logs.app`,
 * `logs.file.N`, `logs.journal`) and its own sender, so one failing stream
 * never blocks another. Credentials come from the "aws" service's chain.
 *
 * ```ts
 * const logs = agent.get<CloudLogsService>("cloud.logs");
 * logs.write("pump", { event: "started", rpm: 1200 });   // → group /tern/{thing}, stream {thing}/app/pump
 * ```
 *
 * `status()` (→ /api/status) lists every stream's backlog, oldest age,
 * drops and last error under `spool`.
 */

import { type AwsCredentialProvider, AwsJsonClient, type AwsService } from "../../aws/mod.ts";
import { type Config, logsEndpoint } from "../../config/mod.ts";
import type { DatabaseService } from "../../db/mod.ts";
import { HttpClient } from "../../http/mod.ts";
import { resolve } from "../../path.ts";
import type { Service, ServiceContext, ServiceFactory } from "../../service.ts";
import { ServiceConfigError, serviceThing } from "../../service.ts";
import { Spool, type StreamStatus } from "../spool.ts";
import { FileSource } from "./files.ts";
import { JournalSource } from "./journal.ts";
import { LogSender } from "./sender.ts";
import { AgentLogSink, AppLogs, type Destination } from "./sources.ts";

export class CloudLogsService implements Service {
  readonly #ctx: ServiceContext;
  readonly #stop = new AbortController();
  readonly #loops: Promise<void>[] = [];
  #client: AwsJsonClient | undefined;
  #http: HttpClient | undefined;
  #senders: LogSender[] = [];
  #files: FileSource[] = [];
  #journal: JournalSource | undefined;
  #sink: AgentLogSink | undefined;
  #app: AppLogs | undefined;
  #spool: Spool | undefined;

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
  }

  /**
   * Store one event for the app stream `name` (durable when this returns).
   * Throws TypeError for a bad name or message; nothing is stored then.
   */
  write(name: string, message: string | Record<string, unknown>, options?: { time?: number }) {
    if (!this.#app) throw new Error("App logs are off (cloud.logs.app.enabled) or not started");
    this.#app.write(name, message, options);
  }

  start(_signal: AbortSignal): Promise<void> {
    const ctx = this.#ctx;
    const config = ctx.config;
    const logs = config.cloud.logs;
    const region = logs.region ?? config.aws.region;
    const endpoint = logsEndpoint(logs, config.aws.region);
    if (!region || !endpoint) {
      throw new ServiceConfigError(
        'cloud.logs needs a region ("cloud.logs.region" or "aws.region")',
      );
    }
    let credentials: AwsCredentialProvider;
    try {
      credentials = ctx.get<AwsService>("aws").provider;
    } catch {
      throw new ServiceConfigError(
        'cloud.logs needs AWS credentials ("aws.credentials", "aws.useEnv" or "aws.iot")',
      );
    }
    const db = ctx.get<DatabaseService>("database").db;
    const spool = this.#spool = Spool.of(db, { clock: ctx.clock, log: ctx.log.child("spool") });
    this.#client = new AwsJsonClient({
      service: "logs",
      region,
      targetPrefix: "Logs_20140328",
      endpoint: endpoint.href.replace(/\/$/, ""),
      credentials,
      retries: 0,
      clock: ctx.clock,
      http: this.#http = new HttpClient({
        timeoutMs: logs.requestTimeout,
        headersTimeoutMs: logs.requestTimeout,
        retries: 0,
        clock: ctx.clock,
      }),
    });
    const values = {
      thing: serviceThing(ctx),
      device: ctx.deviceId,
    };
    const dest = (group: string | undefined, stream: string): Destination => ({
      group: group ?? logs.group,
      stream,
      values,
    });
    const limits = {
      maxRecords: config.cloud.spool.maxRecords,
      maxBytes: config.cloud.spool.maxBytes,
    };
    const created = new Set<string>();
    const addSender = (name: string) => {
      const stream = spool.stream(name, limits);
      const sender = new LogSender({
        stream,
        client: this.#client!,
        clock: ctx.clock,
        log: ctx.log,
        maxEvents: logs.maxEvents,
        maxBatchBytes: logs.maxBatchBytes,
        flushInterval: logs.flushInterval,
        backoff: logs.backoff,
        confirmDelay: logs.confirmDelay,
        ...(logs.retentionDays ? { retentionDays: logs.retentionDays } : {}),
        created,
      });
      this.#senders.push(sender);
      return stream;
    };
    const signal = this.#stop.signal;
    if (logs.agent.enabled) {
      const stream = addSender("logs.agent");
      this.#sink = new AgentLogSink({
        spool: stream,
        dest: dest(logs.agent.group, logs.agent.stream),
        level: logs.agent.level,
        sources: logs.agent.sources,
      });
      ctx.hub?.addSink(this.#sink);
    }
    if (logs.app.enabled) {
      this.#app = new AppLogs({
        spool: addSender("logs.app"),
        dest: dest(logs.app.group, logs.app.stream),
        redactor: ctx.redactor,
        now: () => ctx.clock.now(),
      });
    }
    logs.files.forEach((f, i) => {
      const source = new FileSource({
        pattern: resolve(ctx.configDir, f.path),
        spool: addSender(`logs.file.${i}`),
        dest: dest(f.group, f.stream),
        clock: ctx.clock,
        log: ctx.log,
        redactor: ctx.redactor,
        ...(f.multiline ? { multiline: new RegExp(f.multiline) } : {}),
        linger: f.linger,
        startAt: f.startAt,
      });
      this.#files.push(source);
      this.#loops.push(source.run(signal, f.poll));
    });
    if (logs.journal.enabled) {
      const j = logs.journal;
      this.#journal = new JournalSource({
        spool: addSender("logs.journal"),
        dest: dest(j.group, j.stream),
        clock: ctx.clock,
        log: ctx.log,
        redactor: ctx.redactor,
        command: j.command,
        units: j.units,
        startAt: j.startAt,
        ...(j.directory ? { directory: resolve(ctx.configDir, j.directory) } : {}),
        ...(j.file ? { file: resolve(ctx.configDir, j.file) } : {}),
      });
      this.#loops.push(this.#journal.run(signal));
    }
    for (const s of this.#senders) this.#loops.push(s.run(signal));
    ctx.log.info("CloudWatch Logs started", {
      endpoint: this.#client.endpoint,
      streams: this.#senders.map((s) => s.stream.name),
    });
    return Promise.resolve();
  }

  /** Every spool stream of this service, for /api/status, /metrics and `tern cloud status`. */
  streams(): StreamStatus[] {
    return this.#senders.map((s) => s.stream.status());
  }

  /** The senders (tests and the benchmark drive them). */
  get senders(): readonly LogSender[] {
    return this.#senders;
  }

  /** Poll every followed file once (tests). */
  async pollFiles(): Promise<number> {
    let n = 0;
    for (const f of this.#files) n += await f.poll();
    return n;
  }

  status(): Record<string, unknown> {
    const out: Record<string, unknown> = { spool: this.#spool ? this.streams() : [] };
    if (this.#files.length) out.files = this.#files.map((f) => f.files());
    if (this.#journal) {
      out.journal = { running: this.#journal.running, lastError: this.#journal.lastError ?? null };
    }
    return out;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#sink) this.#ctx.hub?.removeSink(this.#sink);
    this.#stop.abort();
    await Promise.allSettled(this.#loops);
    for (const f of this.#files) f.close();
    try {
      this.#http?.close();
    } catch { /* closed */ }
  }
}

/** True when the config turns CloudWatch Logs on. */
export function cloudLogsEnabled(config: Config): boolean {
  return config.cloud.logs.enabled;
}

/** Factory for `lib/services.ts` (loaded lazily). */
export const cloudLogsService: ServiceFactory = {
  name: "cloud.logs",
  deps: ["database", "aws", "provision"], // provision: {thing}, when it is on
  enabled: cloudLogsEnabled,
  create: (ctx) => new CloudLogsService(ctx),
};
