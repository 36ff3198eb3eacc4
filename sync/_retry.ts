/**
 * Which DynamoDB failures are worth retrying, and a retry loop on the
 * injected clock with full-jitter backoff. The AWS SDK's own retries are
 * off (`maxAttempts: 1`) so every wait goes through the `Clock`.
 */

import { Backoff } from "../lib/backoff.ts";
import type { Clock } from "../lib/clock.ts";

const RETRYABLE_NAMES = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded",
  "InternalServerError",
  "ServiceUnavailable",
  "LimitExceededException",
  "TransactionConflictException",
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
]);

/** Whether `e` is throttling, a server error or a network failure. */
export function isRetryable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  if (RETRYABLE_NAMES.has(e.name)) return true;
  const meta = (e as { $metadata?: { httpStatusCode?: number } }).$metadata;
  const status = meta?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 429;
  // No HTTP response at all: connection refused, reset, DNS, timeout.
  return !(e as { $fault?: string }).$fault || (e as { $fault?: string }).$fault === "server";
}

/** Whether `e` is a failed ConditionExpression. */
export function isConditionFailed(e: unknown): boolean {
  return e instanceof Error && e.name === "ConditionalCheckFailedException";
}

/** Options of {@linkcode withRetry}. */
export interface RetryOptions {
  clock: Clock;
  /** Tries in all (1 = no retry). @default 4 */
  attempts?: number;
  /** Backoff base in ms. @default 100 */
  min?: number;
  /** Backoff cap in ms. @default 5000 */
  max?: number;
  signal?: AbortSignal;
  /** Called before each wait (counting throttles for status). */
  onRetry?: (e: unknown, attempt: number) => void;
}

/** Run `fn`, retrying retryable failures with backoff on the clock. */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  const attempts = options.attempts ?? 4;
  const backoff = new Backoff({ min: options.min ?? 100, max: options.max ?? 5000 });
  for (let attempt = 1;; attempt++) {
    options.signal?.throwIfAborted();
    try {
      return await fn();
    } catch (e) {
      if (attempt >= attempts || !isRetryable(e)) throw e;
      options.onRetry?.(e, attempt);
      await options.clock.sleep(backoff.next(), options.signal);
    }
  }
}
