/**
 * The sender of one spool stream to CloudWatch Logs: peeks a batch
 * (`cutBatch`: every PutLogEvents limit), marks it in flight, calls
 * PutLogEvents through our SigV4 JSON-API caller, and acks. One sender per
 * source, so a failing stream never blocks another.
 *
 * - ResourceNotFoundException: the group (with its retention) and stream are
 *   created, and the batch is sent again at once.
 * - InvalidParameterException (a refusal for good): the batch is halved
 *   until the refused event is alone, which is then counted and dropped; the
 *   rest goes through.
 * - Throttling, 5xx, credentials or access errors: retried with full-jitter
 *   backoff (`backoff.min`…`backoff.max`), never in a tight loop.
 * - A request whose answer never came (timeout, reset) or a batch left in
 *   flight by a crash: after `confirmDelay` the sender reads the stream back
 *   (GetLogEvents over the batch's time range) and acks the batch when every
 *   event is there, so nothing acknowledged by CloudWatch is sent twice.
 *
 * Units: ms.
 */

import type { Backoff } from "../../backoff.ts";
import { runSender, senderBackoff } from "../sender_loop.ts";
import type { Clock } from "../../clock.ts";
import { AwsApiError, type AwsJsonClient } from "../../aws/mod.ts";
import type { Logger } from "../../log/mod.ts";
import type { SpoolStream } from "../spool.ts";
import { type Batch, cutBatch, decodeEvent, MAX_BATCH_BYTES, rejectedCount } from "./events.ts";

/** Errors that say the request itself is wrong: halve the batch, then drop the one event. */
const REFUSED = new Set([
  "InvalidParameterException",
  "SerializationException",
  "ValidationException",
  "MalformedQueryException",
]);

/** Options of {@linkcode LogSender}. */
export interface LogSenderOptions {
  stream: SpoolStream;
  client: AwsJsonClient;
  clock: Clock;
  log: Logger;
  /** @default 10000 */
  maxEvents?: number;
  /** @default 1048576 */
  maxBatchBytes?: number;
  /** Wait after the first new record before sending, to batch. @default 5000 */
  flushInterval?: number;
  /** @default { min: 1000, max: 300000 } */
  backoff?: { min: number; max: number };
  /** Wait after an unanswered send before reading the stream back. @default 10000 */
  confirmDelay?: number;
  /** Retention of groups this sender creates. */
  retentionDays?: number;
  /** Destinations already created, shared by the senders of one service. */
  created?: Set<string>;
  random?: () => number;
}

/** What the meta of an in-flight batch holds. */
interface _Meta {
  g: string;
  s: string;
  min: number;
  max: number;
  n: number;
  /** Records of the range dropped before sending. */
  d: number;
}

export class LogSender {
  readonly stream: SpoolStream;
  readonly #o: LogSenderOptions;
  readonly #backoff: Backoff;
  readonly #created: Set<string>;
  #limit: number;
  /** Keep the halved limit until the spool is acked past this id. */
  #bisectUntil = 0;
  #failures = 0;
  #lastRnf = "";
  /** Batches sent and events in them, since start. */
  batches = 0;
  events = 0;

  constructor(options: LogSenderOptions) {
    this.#o = options;
    this.stream = options.stream;
    this.#limit = options.maxEvents ?? 10_000;
    this.#created = options.created ?? new Set();
    this.#backoff = senderBackoff(options);
  }

  /** Send until `signal` aborts: wait for records, linger `flushInterval`, send, back off on failure. */
  run(signal: AbortSignal): Promise<void> {
    const o = this.#o;
    return runSender({
      stream: this.stream,
      step: (s) => this.step(s),
      clock: o.clock,
      log: o.log,
      backoff: this.#backoff,
      linger: o.flushInterval ?? 5000,
      fullBatch: o.maxEvents ?? 10_000,
      failure: "Sending logs failed",
    }, signal);
  }

  /**
   * One unit of work: resolve a batch left in flight, or send one batch.
   * "idle": nothing to send; "sent": go on at once; "retry": back off first.
   */
  async step(signal?: AbortSignal): Promise<"idle" | "sent" | "retry"> {
    const inflight = this.stream.inflight();
    if (inflight) return await this.#confirm(inflight.upTo, inflight.meta, inflight.at, signal);
    const o = this.#o;
    const maxBytes = o.maxBatchBytes ?? MAX_BATCH_BYTES;
    const records = this.stream.peek({ maxRecords: this.#limit, maxBytes: maxBytes * 2 });
    const batch = cutBatch(records, {
      now: o.clock.now() + o.client.clockSkewMs,
      maxEvents: this.#limit,
      maxBytes,
    });
    if (!batch) return "idle";
    const dropped = batch.tooOld + batch.tooNew + batch.empty;
    if (dropped) {
      o.log.warn("Log events outside what CloudWatch accepts were dropped", {
        stream: this.stream.name,
        tooOld: batch.tooOld,
        tooNew: batch.tooNew,
        empty: batch.empty,
      });
    }
    if (batch.events.length === 0) {
      this.#acked(batch.upTo, dropped);
      return "sent";
    }
    const meta: _Meta = {
      g: batch.group,
      s: batch.stream,
      min: batch.events[0]!.timestamp,
      max: batch.events.at(-1)!.timestamp,
      n: batch.events.length,
      d: dropped,
    };
    this.stream.begin(batch.upTo, JSON.stringify(meta));
    let reply: { rejectedLogEventsInfo?: unknown };
    try {
      reply = await o.client.call("PutLogEvents", {
        logGroupName: batch.group,
        logStreamName: batch.stream,
        logEvents: batch.events,
      }, signal ? { signal } : {});
    } catch (e) {
      if (signal?.aborted) throw e;
      return await this.#failed(e, batch, dropped);
    }
    const refused = rejectedCount(reply.rejectedLogEventsInfo, batch.events.length);
    if (refused) {
      o.log.warn("CloudWatch Logs refused events for their time", {
        stream: this.stream.name,
        refused,
        info: reply.rejectedLogEventsInfo,
      });
    }
    this.batches++;
    this.events += batch.events.length - refused;
    this.#acked(batch.upTo, dropped + refused);
    return "sent";
  }

  #acked(upTo: number, refused: number): void {
    this.stream.ack(upTo, refused);
    if (this.#failures > 0) {
      this.#o.log.info("CloudWatch Logs accepts again", {
        stream: this.stream.name,
        failures: this.#failures,
      });
    }
    this.#failures = 0;
    this.#lastRnf = "";
    this.#backoff.reset();
    if (upTo >= this.#bisectUntil) this.#limit = this.#o.maxEvents ?? 10_000;
  }

  async #failed(e: unknown, batch: Batch, dropped: number): Promise<"sent" | "retry"> {
    const o = this.#o;
    const key = `${batch.group}\n${batch.stream}`;
    if (e instanceof AwsApiError) {
      if (e.type === "ResourceNotFoundException" && this.#lastRnf !== key) {
        this.stream.abandon();
        this.#lastRnf = key;
        try {
          await this.ensure(batch.group, batch.stream, true);
          return "sent";
        } catch (err) {
          return this.#retry(err);
        }
      }
      if (e.type === "DataAlreadyAcceptedException") {
        this.#acked(batch.upTo, dropped);
        return "sent";
      }
      if (REFUSED.has(e.type)) {
        this.stream.abandon();
        if (batch.events.length > 1) {
          this.#limit = Math.ceil(batch.events.length / 2);
          this.#bisectUntil = batch.upTo;
          return "sent";
        }
        o.log.warn("CloudWatch Logs refused an event; it is dropped", {
          stream: this.stream.name,
          error: e.message,
        });
        this.#acked(batch.upTo, dropped + 1);
        return "sent";
      }
      this.stream.abandon();
      return this.#retry(e);
    }
    // No answer (timeout, reset): it may have arrived. Keep the marker; #confirm decides.
    if ((e as { name?: string })?.name !== "HttpError") this.stream.abandon();
    return this.#retry(e);
  }

  #retry(e: unknown): "retry" {
    const msg = e instanceof Error ? e.message : String(e);
    this.stream.fail(msg);
    this.#failures++;
    const fields = { stream: this.stream.name, error: msg, failures: this.#failures };
    if (this.#failures === 1) {
      this.#o.log.warn("Sending logs to CloudWatch failed; retrying", fields);
    } else this.#o.log.debug("Sending logs to CloudWatch failed again", fields);
    return "retry";
  }

  /** Create the group (with retention) and the stream when missing; `force` ignores the cache. */
  async ensure(group: string, stream: string, force = false): Promise<void> {
    const o = this.#o;
    const key = `${group}\n${stream}`;
    if (!force && this.#created.has(key)) return;
    const exists = (e: unknown) =>
      e instanceof AwsApiError && e.type === "ResourceAlreadyExistsException";
    let created = false;
    try {
      await o.client.call("CreateLogGroup", { logGroupName: group });
      created = true;
    } catch (e) {
      if (!exists(e)) throw e;
    }
    if (created && o.retentionDays) {
      await o.client.call("PutRetentionPolicy", {
        logGroupName: group,
        retentionInDays: o.retentionDays,
      });
    }
    try {
      await o.client.call("CreateLogStream", { logGroupName: group, logStreamName: stream });
    } catch (e) {
      if (!exists(e)) throw e;
    }
    if (created) o.log.info("Log group created", { group, retentionDays: o.retentionDays });
    this.#created.add(key);
  }

  /** Decide whether the in-flight batch arrived: read it back, ack it or send it again. */
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
    const want = new Map<string, number>();
    for (const r of this.stream.peek({ maxRecords: meta.n + meta.d + 10 })) {
      if (r.id > upTo) break;
      const e = decodeEvent(r.data);
      if (e.group !== meta.g || e.stream !== meta.s || r.time < meta.min || r.time > meta.max) {
        continue;
      }
      const k = `${r.time}\n${e.message}`;
      want.set(k, (want.get(k) ?? 0) + 1);
    }
    let found: boolean;
    try {
      found = want.size > 0 && await this.#present(meta, want, signal);
    } catch (e) {
      if (signal?.aborted) throw e;
      if (e instanceof AwsApiError && e.type === "ResourceNotFoundException") found = false;
      else return this.#retry(e);
    }
    if (found) {
      o.log.info("A batch sent before was found in CloudWatch; it is not sent again", {
        stream: this.stream.name,
        events: meta.n,
      });
      this.batches++;
      this.events += meta.n;
      this.#acked(upTo, meta.d);
    } else this.stream.abandon();
    return "sent";
  }

  /** True when every wanted (time, message) is in the log stream between meta.min and meta.max. */
  async #present(meta: _Meta, want: Map<string, number>, signal?: AbortSignal): Promise<boolean> {
    const left = new Map(want);
    let token: string | undefined;
    for (let page = 0; page < 1000 && left.size > 0; page++) {
      const r = await this.#o.client.call<
        { events?: { timestamp: number; message: string }[]; nextForwardToken?: string }
      >("GetLogEvents", {
        logGroupName: meta.g,
        logStreamName: meta.s,
        startTime: meta.min,
        endTime: meta.max + 1,
        startFromHead: true,
        limit: 10_000,
        ...(token ? { nextToken: token } : {}),
      }, signal ? { signal } : {});
      for (const e of r.events ?? []) {
        const k = `${e.timestamp}\n${e.message}`;
        const n = left.get(k);
        if (n === undefined) continue;
        if (n <= 1) left.delete(k);
        else left.set(k, n - 1);
      }
      if (!r.events?.length || !r.nextForwardToken || r.nextForwardToken === token) break;
      token = r.nextForwardToken;
    }
    return left.size === 0;
  }
}
