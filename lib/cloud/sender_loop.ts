/**
 * The run loop every spool sender shares (CloudWatch Logs, PutMetricData,
 * CloudTrail): call `step()` until `signal` aborts; when it is idle, wait for
 * the next append and linger (so a batch fills) unless a full batch is
 * already waiting; when it asks to retry, or throws (not expected: a database
 * error), back off with the sender's full-jitter `Backoff`. Units: ms.
 */

import { Backoff } from "../backoff.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log/mod.ts";
import type { SpoolStream } from "./spool.ts";

/** What one unit of a sender's work came to. */
export type StepResult = "idle" | "sent" | "retry";

/** Options of {@linkcode runSender}. */
export interface SenderLoopOptions {
  stream: SpoolStream;
  step(signal: AbortSignal): Promise<StepResult>;
  clock: Clock;
  log: Logger;
  backoff: Backoff;
  /** Wait after an append wakes an idle sender. */
  linger: number;
  /** A backlog this large is sent at once, without lingering. @default Infinity */
  fullBatch?: number;
  /** Logged with an unexpected error, e.g. "Sending logs failed". */
  failure: string;
}

/** A sender's retry settings: full jitter between `min` and `max` ms. */
export interface SenderBackoffOptions {
  /** @default { min: 1000, max: 300000 } */
  backoff?: { min: number; max: number };
  random?: () => number;
}

/** The full-jitter backoff of a spool sender (1 s … 5 min unless configured). */
export function senderBackoff(o: SenderBackoffOptions): Backoff {
  return new Backoff({
    min: o.backoff?.min ?? 1000,
    max: o.backoff?.max ?? 300_000,
    ...(o.random ? { random: o.random } : {}),
  });
}

/** Run a sender until `signal` aborts. */
export async function runSender(o: SenderLoopOptions, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      const r = await o.step(signal);
      if (r === "idle") {
        await o.stream.changed(signal);
        if (signal.aborted) break;
        if (o.stream.backlog < (o.fullBatch ?? Infinity)) await o.clock.sleep(o.linger, signal);
      } else if (r === "retry") {
        await o.clock.sleep(o.backoff.next(), signal);
      }
    } catch (e) {
      if (signal.aborted) break;
      o.log.error(o.failure, { stream: o.stream.name, error: e });
      try {
        await o.clock.sleep(o.backoff.next(), signal);
      } catch { /* aborted */ }
    }
  }
}
