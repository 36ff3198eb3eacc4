/**
 * Which DynamoDB failures are worth retrying, and a retry loop on the
 * injected clock with full-jitter backoff. The DynamoDB client has no
 * retries of its own, so every wait goes through the `Clock`.
 */

import { AwsApiError } from "../lib/aws/mod.ts";
import { Backoff } from "../lib/backoff.ts";
import type { Clock } from "../lib/clock.ts";
import { HttpError } from "../lib/http/mod.ts";

const RETRYABLE_TYPES = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded",
  "InternalServerError",
  "ServiceUnavailable",
  "LimitExceededException",
  "TransactionConflictException",
  "RequestTimeout",
  "RequestTimeoutException",
]);

/** Whether `e` is throttling, a server error or a network failure (refused, reset, timeout). */
export function isRetryable(e: unknown): boolean {
  if (e instanceof AwsApiError) {
    return RETRYABLE_TYPES.has(e.type) || e.status >= 500 || e.status === 429;
  }
  return e instanceof HttpError && (e.code === "HTTP_NETWORK" || e.code === "HTTP_TIMEOUT");
}

/** Whether `e` is a failed ConditionExpression. */
export function isConditionFailed(e: unknown): boolean {
  return e instanceof AwsApiError && e.type === "ConditionalCheckFailedException";
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
