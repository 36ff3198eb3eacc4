/**
 * CloudTrail Lake: audit events to a channel with PutAuditEvents
 * (`POST /PutAuditEvents?channelArn=…` on `cloudtrail-data.REGION.amazonaws.com`,
 * REST-JSON, SigV4 with signing name "cloudtrail-data"), from the spool
 * stream `audit.cloudtrail`.
 *
 * Limits (the service model and AWS's documentation): at most 100 events
 * and 1 MB per call; an event `id` matches `^[-_A-Za-z0-9]+$` and is at
 * most 128 characters (ours are 26-character ULIDs); `eventData` is the
 * documented JSON (version, userIdentity, eventSource, eventName, eventTime,
 * UID, …) as a string, `eventDataChecksum` its base64 SHA-256.
 *
 * Answers: `successful` events are delivered; `failed` entries with
 * `DuplicatedAuditEventId` are delivered too (CloudTrail already has that
 * id: a resend after a crash or a lost answer); `Throttling`,
 * `InternalFailure` and `AccountNotSubscribed` are retried with backoff
 * (the batch is acked up to the event before the first of them); the other
 * codes (`InvalidData`, `FieldTooLong`, …) refuse the event for good: it is
 * counted as refused and dropped. Since CloudTrail dedupes by id, a batch
 * left in flight by a crash is simply sent again: nothing is stored twice.
 *
 * Units: ms, bytes.
 */

import type { Backoff } from "../../backoff.ts";
import { runSender, senderBackoff } from "../sender_loop.ts";
import type { Clock } from "../../clock.ts";
import { AwsApiError, type AwsJsonClient } from "../../aws/mod.ts";
import { type AuditEvent, sha256Base64Sync } from "../../db/mod.ts";
import type { Logger } from "../../log/mod.ts";
import { type SpoolRecord, type SpoolStream, utf8Length } from "../spool.ts";

/** Most events per PutAuditEvents. */
export const MAX_EVENTS = 100;
/** Largest request body, bytes. */
export const MAX_BYTES = 1_048_576;
/** The id rule of the service model (`Uuid`). */
export const EVENT_ID = /^[-_A-Za-z0-9]{1,128}$/;

/** Per-event error codes retried later (the rest are refusals for good). */
const RETRY_CODES = new Set(["Throttling", "InternalFailure", "AccountNotSubscribed"]);
/** Whole-call errors that mean the config is wrong: retried at the backoff ceiling, logged. */
/** Whole-call errors that refuse the request itself: the batch is halved until the bad event is alone, then dropped. */
const REFUSED = new Set([
  "ValidationException",
  "SerializationException",
  "InvalidParameterException",
]);
const CONFIG_ERRORS = new Set([
  "ChannelNotFound",
  "InvalidChannelARN",
  "ChannelInsufficientPermission",
  "ChannelUnsupportedSchema",
  "UnsupportedOperationException",
]);

/** One entry of `auditEvents`. */
export interface CloudTrailEntry {
  id: string;
  eventData: string;
  eventDataChecksum: string;
}

/** The CloudTrail Lake `eventData` of one of our events (the documented schema, version 1.0). */
export function eventData(e: AuditEvent, recipientAccountId?: string): Record<string, unknown> {
  const out: Record<string, unknown> = {
    version: "1.0",
    userIdentity: {
      type: e.actor.type,
      principalId: e.actor.id,
      details: { device: e.device },
    },
    userAgent: "tern",
    eventSource: `tern:${e.device}`,
    eventName: e.action,
    eventTime: e.time,
    UID: e.id,
    requestParameters: {
      ...(e.target !== undefined ? { target: e.target } : {}),
      ...(e.details ?? {}),
    },
    responseElements: { outcome: e.outcome },
    sourceIPAddress: e.source,
    additionalEventData: { seq: e.seq, prev: e.prev, device: e.device },
  };
  if (e.outcome !== "success") {
    out.errorCode = e.outcome;
    out.errorMessage = `${e.action} ${e.outcome}`;
  }
  if (recipientAccountId) out.recipientAccountId = recipientAccountId;
  return out;
}

/** The `auditEvents` entry of a spool record (its data is the event's JSON). */
export function entryOf(record: SpoolRecord, recipientAccountId?: string): CloudTrailEntry {
  const e = JSON.parse(record.data) as AuditEvent;
  if (!EVENT_ID.test(e.id)) {
    throw new TypeError(`Audit event id "${e.id}" is not valid for CloudTrail`);
  }
  const data = JSON.stringify(eventData(e, recipientAccountId));
  return { id: e.id, eventData: data, eventDataChecksum: sha256Base64Sync(data) };
}

/** Options of {@linkcode CloudTrailSender}. */
export interface CloudTrailSenderOptions {
  stream: SpoolStream;
  client: AwsJsonClient;
  channelArn: string;
  externalId?: string;
  clock: Clock;
  log: Logger;
  /** @default 100 */
  maxEvents?: number;
  /** @default 2000 */
  flushInterval?: number;
  /** @default { min: 1000, max: 300000 } */
  backoff?: { min: number; max: number };
  random?: () => number;
}

interface _Answer {
  successful?: { id: string; eventID: string }[];
  failed?: { id: string; errorCode: string; errorMessage: string }[];
}

export class CloudTrailSender {
  readonly stream: SpoolStream;
  readonly #o: CloudTrailSenderOptions;
  readonly #backoff: Backoff;
  readonly #account: string | undefined;
  #failures = 0;
  /** Events per call while a refused batch is being halved (until acked past `#bisectUntil`). */
  #limit: number;
  #bisectUntil = 0;
  /** Calls made and events delivered (including duplicates), since start. */
  batches = 0;
  events = 0;
  duplicates = 0;

  constructor(options: CloudTrailSenderOptions) {
    this.#o = options;
    this.stream = options.stream;
    this.#account = options.channelArn.split(":")[4] || undefined;
    this.#limit = options.maxEvents ?? MAX_EVENTS;
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
      linger: o.flushInterval ?? 2000,
      fullBatch: o.maxEvents ?? MAX_EVENTS,
      failure: "Sending audit events to CloudTrail failed",
    }, signal);
  }

  /** One call: "idle" (nothing waiting), "sent" (go on), "retry" (back off first). */
  async step(signal?: AbortSignal): Promise<"idle" | "sent" | "retry"> {
    const o = this.#o;
    const records = this.stream.peek({ maxRecords: this.#limit });
    if (records.length === 0) return "idle";
    // In spool order; an item without entry is refused here (not valid, too large).
    const items: { rid: number; entry?: CloudTrailEntry }[] = [];
    let bytes = 200 + utf8Length(o.channelArn);
    for (const r of records) {
      let entry: CloudTrailEntry | undefined;
      let size = 0;
      try {
        entry = entryOf(r, this.#account);
        size = utf8Length(JSON.stringify(entry)) + 1;
        if (bytes + size > MAX_BYTES && items.some((i) => i.entry)) break;
        if (200 + size > MAX_BYTES) {
          throw new RangeError(`${size} bytes is more than one call takes`);
        }
      } catch (e) {
        o.log.warn("An audit event CloudTrail cannot take is dropped", { error: e });
        entry = undefined;
      }
      bytes += size;
      items.push(entry ? { rid: r.id, entry } : { rid: r.id });
    }
    const entries = items.flatMap((i) => i.entry ? [i.entry] : []);
    if (entries.length === 0) {
      this.stream.ack(items.at(-1)!.rid, items.length);
      return "sent";
    }
    this.stream.begin(items.at(-1)!.rid, JSON.stringify({ n: entries.length }));
    let answer: _Answer;
    try {
      answer = await o.client.callRest<_Answer>(
        "/PutAuditEvents",
        {
          channelArn: o.channelArn,
          ...(o.externalId ? { externalId: o.externalId } : {}),
        },
        { auditEvents: entries },
        signal ? { signal } : {},
      );
    } catch (e) {
      if (signal?.aborted) throw e;
      if (e instanceof AwsApiError && REFUSED.has(e.type)) return this.#refused(e, items, entries);
      return this.#retry(e);
    }
    return this.#settle(items, answer);
  }

  /** The call was refused as a whole: halve the batch; a single event is dropped (counted). */
  #refused(e: AwsApiError, items: { rid: number }[], entries: CloudTrailEntry[]): "sent" {
    this.stream.fail(e.message);
    if (entries.length > 1) {
      this.stream.abandon();
      this.#limit = Math.max(1, Math.ceil(items.length / 2));
      this.#bisectUntil = items.at(-1)!.rid;
      return "sent";
    }
    this.#o.log.warn("CloudTrail refused an audit event; it is dropped", {
      id: entries[0]!.id,
      error: e.message,
    });
    this.stream.ack(items.at(-1)!.rid, items.length);
    this.#afterAck(items.at(-1)!.rid);
    return "sent";
  }

  #afterAck(upTo: number): void {
    if (upTo >= this.#bisectUntil) this.#limit = this.#o.maxEvents ?? MAX_EVENTS;
  }

  /** Ack what CloudTrail has (or refused for good), up to the first event to retry. */
  #settle(items: { rid: number; entry?: CloudTrailEntry }[], a: _Answer): "sent" | "retry" {
    const failed = new Map((a.failed ?? []).map((f) => [f.id, f]));
    let refused = 0;
    let upTo = 0;
    let retry: string | undefined;
    for (const { rid, entry } of items) {
      const f = entry ? failed.get(entry.id) : undefined;
      if (f && RETRY_CODES.has(f.errorCode)) {
        retry = `${f.errorCode}: ${f.errorMessage}`;
        break;
      }
      if (!entry) refused++;
      else if (f?.errorCode === "DuplicatedAuditEventId") this.duplicates++;
      else if (f) {
        refused++;
        this.#o.log.warn("CloudTrail refused an audit event; it is dropped", {
          id: entry.id,
          code: f.errorCode,
          message: f.errorMessage,
        });
      } else this.events++;
      upTo = rid;
    }
    this.batches++;
    if (upTo > 0) {
      this.stream.ack(upTo, refused);
      this.#afterAck(upTo);
    } else this.stream.abandon();
    if (retry) return this.#retry(new Error(`CloudTrail asked to retry an event (${retry})`));
    if (this.#failures > 0) {
      this.#o.log.info("CloudTrail accepts again", { failures: this.#failures });
    }
    this.#failures = 0;
    this.#backoff.reset();
    return "sent";
  }

  #retry(e: unknown): "retry" {
    const msg = e instanceof Error ? e.message : String(e);
    this.stream.fail(msg);
    this.#failures++;
    const config = e instanceof AwsApiError && CONFIG_ERRORS.has(e.type);
    const fields = { error: msg, failures: this.#failures };
    if (this.#failures === 1 || config) {
      this.#o.log.warn(
        config
          ? "CloudTrail refuses the channel (check audit.cloudtrail and the device's policy); retrying"
          : "Sending audit events to CloudTrail failed; retrying",
        fields,
      );
    } else this.#o.log.debug("Sending audit events to CloudTrail failed again", fields);
    return "retry";
  }
}
