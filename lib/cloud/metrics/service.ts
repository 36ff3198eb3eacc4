/**
 * The "cloud.metrics" service: device, OS, agent and application metrics in
 * CloudWatch. Every `interval` it updates the OS collector, samples the
 * agent's registry (lib/metrics) into the open periods, closes the periods
 * that ended and appends their datums to the spool in one transaction; a
 * sender takes them from there:
 *
 * - `via: "emf"` (default): EMF records in stream `metrics.emf`, sent by the
 *   CloudWatch Logs sender (group `cloud.metrics.group` or `cloud.logs.group`,
 *   stream `{thing}/metrics`);
 * - `via: "putMetricData"`: datums in stream `metrics.put`, sent by
 *   {@linkcode PutSender}.
 *
 * ```ts
 * const metrics = agent.get<CloudMetricsService>("cloud.metrics");
 * metrics.put("TankLevel", 72.5, { unit: "Percent", dimensions: { Tank: "north" } });
 * metrics.count("PumpStarts");
 * ```
 *
 * The open period lives in memory: a stop flushes it to the spool; a
 * `kill -9` loses at most that period (≤ `period`), never a closed one.
 * Every metric carries the dimension `Device` (the provisioned thing, else device.thing, else the id).
 */

import { type AwsCredentialProvider, AwsJsonClient, type AwsService } from "../../aws/mod.ts";
import { type Config, logsEndpoint, metricsEndpoint } from "../../config/mod.ts";
import type { DatabaseService } from "../../db/mod.ts";
import { HttpClient } from "../../http/mod.ts";
import { EventLoopLag, MetricsRegistry } from "../../metrics/mod.ts";
import { OsCollector } from "../../metrics/os.ts";
import { resolve } from "../../path.ts";
import type { Service, ServiceContext, ServiceFactory } from "../../service.ts";
import { ServiceConfigError, serviceThing } from "../../service.ts";
import { LogSender } from "../logs/mod.ts";
import { Spool, type SpoolStream, type StreamStatus } from "../spool.ts";
import { Aggregator } from "./aggregate.ts";
import { AppMetrics, type BatchItem, type PutOptions } from "./app.ts";
import { emfRecords } from "./emf.ts";
import { COMPRESS_ABOVE, type Datum } from "./limits.ts";
import { PutSender } from "./put_sender.ts";

export class CloudMetricsService implements Service {
  readonly #ctx: ServiceContext;
  readonly #stop = new AbortController();
  readonly #loops: Promise<void>[] = [];
  readonly #offs: (() => void)[] = [];
  #registry: MetricsRegistry | undefined;
  #agg: Aggregator | undefined;
  #app: AppMetrics | undefined;
  #os: OsCollector | undefined;
  #lag: EventLoopLag | undefined;
  #stream: SpoolStream | undefined;
  #http: HttpClient | undefined;
  #append: ((datums: Datum[]) => void) | undefined;
  /** The sender (tests and the benchmark drive it). */
  sender: PutSender | LogSender | undefined;
  /** Samples taken and periods closed since start. */
  samples = 0;
  closed = 0;

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
  }

  /** Record a gauge sample of the application (TypeError/RangeError for bad input; nothing recorded). */
  put(name: string, value: number, options?: PutOptions): void {
    this.#appOrThrow().put(name, value, options);
  }

  /** Add `n` (default 1) to an application counter. */
  count(name: string, n = 1, options?: PutOptions): void {
    this.#appOrThrow().count(name, n, options);
  }

  /** Record several samples, all or none (`POST /api/metrics`). */
  putMany(items: readonly BatchItem[]): void {
    this.#appOrThrow().putMany(items);
  }

  /** Whether the application API is on and running. */
  get appEnabled(): boolean {
    return this.#app !== undefined;
  }

  #appOrThrow(): AppMetrics {
    if (!this.#app) {
      throw new Error("Application metrics are off (cloud.metrics.app.enabled) or not started");
    }
    return this.#app;
  }

  start(_signal: AbortSignal): Promise<void> {
    const ctx = this.#ctx;
    const config = ctx.config;
    const m = config.cloud.metrics;
    const region = m.via === "emf"
      ? config.cloud.logs.region ?? config.aws.region
      : m.region ?? config.aws.region;
    const endpoint = m.via === "emf"
      ? logsEndpoint(config.cloud.logs, config.aws.region)
      : metricsEndpoint(m, config.aws.region);
    if (!region || !endpoint) {
      throw new ServiceConfigError(
        'cloud.metrics needs a region ("aws.region", or "cloud.metrics.region" / "cloud.logs.region")',
      );
    }
    let credentials: AwsCredentialProvider;
    try {
      credentials = ctx.get<AwsService>("aws").provider;
    } catch {
      throw new ServiceConfigError(
        'cloud.metrics needs AWS credentials ("aws.credentials", "aws.useEnv" or "aws.iot")',
      );
    }
    const thing = serviceThing(ctx);
    const db = ctx.get<DatabaseService>("database").db;
    const spool = Spool.of(db, { clock: ctx.clock, log: ctx.log.child("spool") });
    const limits = {
      maxRecords: config.cloud.spool.maxRecords,
      maxBytes: config.cloud.spool.maxBytes,
    };
    this.#http = new HttpClient({
      timeoutMs: m.requestTimeout,
      headersTimeoutMs: m.requestTimeout,
      retries: 0,
      clock: ctx.clock,
    });
    const common = {
      region,
      endpoint: endpoint.href.replace(/\/$/, ""),
      credentials,
      retries: 0,
      clock: ctx.clock,
      http: this.#http,
    };
    if (m.via === "emf") {
      const stream = this.#stream = spool.stream("metrics.emf", limits);
      const fill = (t: string) =>
        t.replaceAll("{thing}", thing).replaceAll("{device}", ctx.deviceId);
      const target = {
        namespace: m.namespace,
        group: fill(m.group ?? config.cloud.logs.group),
        stream: fill(m.stream),
      };
      this.sender = new LogSender({
        stream,
        client: new AwsJsonClient({ ...common, service: "logs", targetPrefix: "Logs_20140328" }),
        clock: ctx.clock,
        log: ctx.log,
        flushInterval: m.flushInterval,
        backoff: m.backoff,
        confirmDelay: m.confirmDelay,
        ...(config.cloud.logs.retentionDays
          ? { retentionDays: config.cloud.logs.retentionDays }
          : {}),
      });
      this.#append = (datums) => stream.append(emfRecords(datums, target));
    } else {
      const stream = this.#stream = spool.stream("metrics.put", limits);
      this.sender = new PutSender({
        stream,
        client: new AwsJsonClient({
          ...common,
          service: "monitoring",
          targetPrefix: "GraniteServiceVersion20100801",
          jsonVersion: "1.0",
          compressAbove: COMPRESS_ABOVE,
        }),
        clock: ctx.clock,
        log: ctx.log,
        namespace: m.namespace,
        flushInterval: m.flushInterval,
        backoff: m.backoff,
        confirmDelay: m.confirmDelay,
      });
      // The samples themselves (`x`) are for EMF only: PutMetricData sends the statistic set.
      this.#append = (datums) =>
        stream.append(
          datums.map((d) => ({ time: d.t, data: JSON.stringify({ ...d, x: undefined }) })),
        );
    }
    const registry = this.#registry = ctx.metrics ?? new MetricsRegistry();
    const agg = this.#agg = new Aggregator({
      period: m.period,
      highResolutionPeriod: m.highResolutionPeriod,
      highResolution: m.highResolution,
      base: [["Device", thing]],
    });
    if (m.os.enabled) {
      const os = this.#os = new OsCollector({
        root: m.os.filesRoot ?? "/",
        source: "system",
        groups: { ...m.os, disk: m.os.disk.enabled },
        // The state and config directories (the latter may not exist: the embedded default).
        diskPaths: [
          ctx.stateDir,
          ctx.configDir,
          ...m.os.disk.paths.map((p) => resolve(ctx.configDir, p)),
        ]
          .filter((p, i) => i !== 1 || exists(p)),
      });
      os.update();
      if (os.problems.size) this.#noteProblems(os.problems);
      this.#offs.push(registry.register(() => os.families()));
    }
    if (m.agent.enabled) {
      const lag = this.#lag = new EventLoopLag();
      this.#offs.push(registry.register(() => lag.families()));
    }
    if (m.app.enabled) {
      const app = this.#app = new AppMetrics({
        aggregator: agg,
        now: () => ctx.clock.now(),
        maxSeries: m.app.maxSeries,
      });
      this.#offs.push(registry.register(() => app.families()));
    }
    const signal = this.#stop.signal;
    this.#loops.push(this.#sampleLoop(signal), this.sender.run(signal));
    ctx.log.info("CloudWatch metrics started", {
      via: m.via,
      namespace: m.namespace,
      endpoint: common.endpoint,
      stream: this.#stream.name,
    });
    return Promise.resolve();
  }

  /** Sample at each multiple of `interval` (and of the high-resolution period when that is shorter). */
  async #sampleLoop(signal: AbortSignal): Promise<void> {
    const m = this.#ctx.config.cloud.metrics;
    const clock = this.#ctx.clock;
    const tick = m.highResolution.length
      ? Math.min(m.interval, m.highResolutionPeriod)
      : m.interval;
    let nextSample = 0;
    while (!signal.aborted) {
      const now = clock.now();
      try {
        if (now >= nextSample) {
          this.sample(now);
          nextSample = Math.floor(now / m.interval) * m.interval + m.interval;
        }
        this.flush(now);
      } catch (e) {
        this.#ctx.log.error("Sampling metrics failed", { error: e });
      }
      const wait = Math.floor(now / tick) * tick + tick - now;
      try {
        await clock.sleep(Math.max(1, wait), signal);
      } catch {
        break;
      }
    }
  }

  /** Update the OS collector and sample the registry into the open periods. */
  sample(now = this.#ctx.clock.now()): void {
    if (!this.#agg || !this.#registry) return;
    this.#os?.update();
    if (this.#os?.problems.size) this.#noteProblems(this.#os.problems);
    const m = this.#ctx.config.cloud.metrics;
    const fams = this.#registry.collect().filter((f) =>
      f.cloud !== undefined && (m.agent.enabled || f.name.startsWith("tern_os_")) &&
      !m.exclude.includes(f.cloud.name)
    );
    this.#agg.sample(fams, now);
    this.samples++;
  }

  readonly #noted = new Set<string>();

  /** Log each OS reading problem once (status keeps the current ones). */
  #noteProblems(problems: ReadonlyMap<string, string>): void {
    for (const [what, msg] of problems) {
      if (this.#noted.has(what)) continue;
      this.#noted.add(what);
      this.#ctx.log.info("An OS metric cannot be read", { what, problem: msg });
    }
  }

  /** Close the periods that ended by `now` (all of them with `Infinity`) into the spool. */
  flush(now = this.#ctx.clock.now()): number {
    if (!this.#agg || !this.#append) return 0;
    const datums = this.#agg.due(now);
    if (datums.length === 0) return 0;
    this.#append(datums);
    this.closed += datums.length;
    return datums.length;
  }

  /** The spool stream of this service. */
  streams(): StreamStatus[] {
    return this.#stream ? [this.#stream.status()] : [];
  }

  status(): Record<string, unknown> {
    const out: Record<string, unknown> = {
      via: this.#ctx.config.cloud.metrics.via,
      spool: this.streams(),
      open: this.#agg?.size ?? 0,
      appSeries: this.#app?.size ?? 0,
    };
    if (this.#os?.problems.size) out.unreadable = Object.fromEntries(this.#os.problems);
    return out;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#stop.abort();
    await Promise.allSettled(this.#loops);
    try {
      this.flush(Infinity); // the open periods: kept for the next run's sender
    } catch (e) {
      this.#ctx.log.warn("Keeping the open metrics period failed", { error: e });
    }
    for (const off of this.#offs) off();
    this.#lag?.[Symbol.dispose]();
    try {
      this.#http?.close();
    } catch { /* closed */ }
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** True when the config turns CloudWatch metrics on. */
export function cloudMetricsEnabled(config: Config): boolean {
  return config.cloud.metrics.enabled;
}

/** Factory for `lib/services.ts` (loaded lazily). */
export const cloudMetricsService: ServiceFactory = {
  name: "cloud.metrics",
  deps: ["database", "aws", "provision"], // provision: {thing}, when it is on
  enabled: cloudMetricsEnabled,
  create: (ctx) => new CloudMetricsService(ctx),
};
