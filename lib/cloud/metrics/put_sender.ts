/**
 * The PutMetricData sender of the `metrics.put` spool stream: peeks up to
 * 1,000 datums within 1 MB, drops those outside CloudWatch's time window
 * (counted as refused), marks the batch in flight, calls
 * `GraniteServiceVersion20100801.PutMetricData` (AWS JSON 1.0, SigV4, gzip
 * from 10,240 bytes) and acks.
 *
 * - A 400 (InvalidParameterValue, InvalidParameterCombination,
 *   MissingParameter, ValidationError…): the batch is halved until the refused
 *   datum is alone, which is then counted and dropped.
 * - Throttling, 5xx, credentials or network errors: full-jitter backoff.
 * - A request whose answer never came, or a batch left in flight by a crash:
 *   after `confirmDelay` the sender asks GetMetricStatistics for the batch's
 *   first datum; when CloudWatch has it (a request is accepted whole or not at
 *   all) the batch is acked, else sent again, so no period is counted twice.
 *
 * Units: ms.
 */

import type { Backoff } from "../../backoff.ts";
import { runSender, senderBackoff } from "../sender_loop.ts";
import type { Clock } from "../../clock.ts";
import { AwsApiError, type AwsJsonClient } from "../../aws/mod.ts";
import type { Logger } from "../../log/mod.ts";
import type { SpoolStream } from "../spool.ts";
import { type Datum, inWindow, MAX_DATUMS, MAX_REQUEST_BYTES, MAX_VALUES } from "./limits.ts";

const REFUSED = new Set([
  "InvalidParameterValue",
  "InvalidParameterValueException",
  "InvalidParameterCombination",
  "InvalidParameterCombinationException",
  "MissingParameter",
  "MissingRequiredParameter",
  "MissingRequiredParameterException",
  "ValidationError",
  "ValidationException",
  "SerializationException",
]);

/** Options of {@linkcode PutSender}. */
export interface PutSenderOptions {
  stream: SpoolStream;
  /** A client for service "monitoring", target prefix GraniteServiceVersion20100801, JSON 1.0. */
  client: AwsJsonClient;
  clock: Clock;
  log: Logger;
  namespace: string;
  /** @default 1000 */
  maxDatums?: number;
  /** @default 1000000 */
  maxBytes?: number;
  /** Wait after the first new record before sending. @default 1000 */
  flushInterval?: number;
  /** @default { min: 1000, max: 300000 } */
  backoff?: { min: number; max: number };
  /** @default 10000 */
  confirmDelay?: number;
  random?: () => number;
}

/** What the in-flight marker holds: the first datum's identity. */
interface _Meta {
  n: string;
  d: [string, string][];
  t: number;
  r: 1 | 60;
  c: number;
  /** Period length of the datum, s. */
  p: number;
  /** Datums of the batch. */
  k: number;
  /** Records of the range refused before sending. */
  x: number;
}

/** One datum in the PutMetricData JSON shape. */
export function metricDatum(d: Datum): Record<string, unknown> {
  const out: Record<string, unknown> = { MetricName: d.n };
  if (d.d.length) out.Dimensions = d.d.map(([Name, Value]) => ({ Name, Value }));
  out.Timestamp = d.t / 1000;
  if (d.v && d.k) {
    out.Values = d.v;
    out.Counts = d.k;
  } else {
    out.StatisticValues = { SampleCount: d.c, Sum: d.s, Minimum: d.mn, Maximum: d.mx };
  }
  out.Unit = d.u;
  out.StorageResolution = d.r;
  return out;
}

export class PutSender {
  readonly stream: SpoolStream;
  readonly #o: PutSenderOptions;
  readonly #backoff: Backoff;
  #limit: number;
  #bisectUntil = 0;
  #failures = 0;
  /** Requests and datums accepted since start. */
  requests = 0;
  datums = 0;

  constructor(options: PutSenderOptions) {
    this.#o = options;
    this.stream = options.stream;
    this.#limit = options.maxDatums ?? MAX_DATUMS;
    this.#backoff = senderBackoff(options);
  }

  /** Send until `signal` aborts. */
  run(signal: AbortSignal): Promise<void> {
    const o = this.#o;
    return runSender({
      stream: this.stream,
      step: (s) => this.step(s),
      clock: o.clock,
      log: o.log,
      backoff: this.#backoff,
      linger: o.flushInterval ?? 1000,
      failure: "Sending metrics failed",
    }, signal);
  }

  /** One unit of work: resolve a batch left in flight, or send one batch. */
  async step(signal?: AbortSignal): Promise<"idle" | "sent" | "retry"> {
    const inflight = this.stream.inflight();
    if (inflight) return await this.#confirm(inflight.upTo, inflight.meta, inflight.at, signal);
    const o = this.#o;
    const maxBytes = o.maxBytes ?? MAX_REQUEST_BYTES;
    const records = this.stream.peek({ maxRecords: this.#limit, maxBytes, overhead: 120 });
    if (records.length === 0) return "idle";
    const now = o.clock.now() + o.client.clockSkewMs;
    const head = `{"Namespace":${JSON.stringify(o.namespace)},"MetricData":[`;
    const parts: string[] = [];
    let bytes = head.length + 2;
    let upTo = 0;
    let refused = 0;
    let first: Datum | undefined;
    for (const r of records) {
      let d: Datum;
      try {
        d = JSON.parse(r.data) as Datum;
      } catch {
        refused++;
        upTo = r.id;
        continue;
      }
      const w = inWindow(d.t, now);
      if (w !== "ok" || (d.v && d.v.length > MAX_VALUES)) {
        refused++;
        upTo = r.id;
        continue;
      }
      const json = JSON.stringify(metricDatum(d));
      if (parts.length && bytes + json.length + 1 > maxBytes) break;
      parts.push(json);
      bytes += json.length + 1;
      upTo = r.id;
      first ??= d;
    }
    if (refused) {
      o.log.warn("Metric datums outside what CloudWatch accepts were dropped", {
        stream: this.stream.name,
        dropped: refused,
      });
    }
    if (!first) {
      this.#acked(upTo, refused);
      return "sent";
    }
    const meta: _Meta = {
      n: first.n,
      d: first.d,
      t: first.t,
      r: first.r,
      c: first.c,
      p: first.r === 1 ? 1 : 60,
      k: parts.length,
      x: refused,
    };
    this.stream.begin(upTo, JSON.stringify(meta));
    const input = JSON.parse(`${head}${parts.join(",")}]}`);
    try {
      await o.client.call("PutMetricData", input, signal ? { signal } : {});
    } catch (e) {
      if (signal?.aborted) throw e;
      return this.#failed(e, upTo, refused, parts.length);
    }
    this.requests++;
    this.datums += parts.length;
    this.#acked(upTo, refused);
    return "sent";
  }

  #acked(upTo: number, refused: number): void {
    this.stream.ack(upTo, refused);
    if (this.#failures > 0) {
      this.#o.log.info("CloudWatch accepts metrics again", {
        stream: this.stream.name,
        failures: this.#failures,
      });
    }
    this.#failures = 0;
    this.#backoff.reset();
    if (upTo >= this.#bisectUntil) this.#limit = this.#o.maxDatums ?? MAX_DATUMS;
  }

  #failed(e: unknown, upTo: number, refused: number, n: number): "sent" | "retry" {
    if (e instanceof AwsApiError) {
      this.stream.abandon();
      if (REFUSED.has(e.type) || (e.status === 400 && !/Throttl/i.test(e.type))) {
        if (n > 1) {
          this.#limit = Math.ceil(n / 2);
          this.#bisectUntil = upTo;
          return "sent";
        }
        this.#o.log.warn("CloudWatch refused a metric datum; it is dropped", {
          stream: this.stream.name,
          error: e.message,
        });
        this.#acked(upTo, refused + 1);
        return "sent";
      }
      return this.#retry(e);
    }
    // No answer (timeout, reset): it may have arrived; the marker stays and #confirm decides.
    if ((e as { name?: string })?.name !== "HttpError") this.stream.abandon();
    return this.#retry(e);
  }

  #retry(e: unknown): "retry" {
    const msg = e instanceof Error ? e.message : String(e);
    this.stream.fail(msg);
    this.#failures++;
    const fields = { stream: this.stream.name, error: msg, failures: this.#failures };
    if (this.#failures === 1) {
      this.#o.log.warn("Sending metrics to CloudWatch failed; retrying", fields);
    } else this.#o.log.debug("Sending metrics to CloudWatch failed again", fields);
    return "retry";
  }

  /** Did the in-flight batch arrive? Ask for its first datum's period. */
  async #confirm(
    upTo: number,
    metaText: string,
    at: number,
    signal?: AbortSignal,
  ): Promise<"sent" | "retry"> {
    const o = this.#o;
    const wait = at + (o.confirmDelay ?? 10_000) - o.clock.now();
    if (wait > 0) await o.clock.sleep(wait, signal);
    let meta: _Meta;
    try {
      meta = JSON.parse(metaText) as _Meta;
    } catch {
      this.stream.abandon();
      return "sent";
    }
    let found: boolean;
    try {
      const r = await o.client.call<{ Datapoints?: { SampleCount?: number }[] }>(
        "GetMetricStatistics",
        {
          Namespace: o.namespace,
          MetricName: meta.n,
          Dimensions: meta.d.map(([Name, Value]) => ({ Name, Value })),
          StartTime: meta.t / 1000,
          EndTime: meta.t / 1000 + meta.p,
          Period: meta.p,
          Statistics: ["SampleCount"],
        },
        signal ? { signal } : {},
      );
      found = (r.Datapoints ?? []).some((p) => (p.SampleCount ?? 0) >= meta.c);
    } catch (e) {
      if (signal?.aborted) throw e;
      return this.#retry(e);
    }
    if (found) {
      o.log.info("A metrics batch sent before is in CloudWatch; it is not sent again", {
        stream: this.stream.name,
        datums: meta.k,
      });
      this.requests++;
      this.datums += meta.k;
      this.#acked(upTo, meta.x);
    } else this.stream.abandon();
    return "sent";
  }
}
