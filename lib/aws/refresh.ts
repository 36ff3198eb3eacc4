/**
 * Cached, self-refreshing credentials around any provider.
 *
 * - `get()` (and `provider`, the same in AWS SDK shape) returns the cached
 *   credentials while they are fresh; the first caller after the refresh time
 *   fetches new ones, concurrent callers share that one fetch.
 * - Refresh time: `expiration - margin`, where margin is `refreshBeforeMs`
 *   plus a random part of `jitterMs` (so a fleet does not refresh in lock
 *   step), but never more than half the remaining lifetime (short-lived
 *   credentials are refreshed at half-life, never in a loop).
 * - A failed fetch backs off with full jitter (`backoffMinMs` doubling up to
 *   `backoffMaxMs`); meanwhile `get()` keeps returning the old credentials
 *   while they are still valid, or fails fast with the last error, without
 *   calling the source again.
 * - `start()` runs the refresh in the background (on the injected Clock), so
 *   requests never wait for a refresh.
 *
 * Units: milliseconds.
 */

import { Backoff } from "../backoff.ts";
import { type Clock, systemClock } from "../clock.ts";
import type { Logger } from "../log/mod.ts";
import {
  type AwsCredentialProvider,
  type AwsCredentials,
  CredentialsError,
  registerSecrets,
  type SecretSink,
} from "./credentials.ts";

/** Options of {@linkcode RefreshingCredentials}. */
export interface RefreshOptions {
  /** Refresh this long before expiry, in ms. @default 300000 (5 min) */
  refreshBeforeMs?: number;
  /** Up to this much earlier again, at random, in ms. @default 60000 */
  jitterMs?: number;
  /** First backoff after a failure, in ms. @default 1000 */
  backoffMinMs?: number;
  /** Longest backoff, in ms. @default 300000 */
  backoffMaxMs?: number;
  /** @default systemClock */
  clock?: Clock;
  /** @default Math.random */
  random?: () => number;
  logger?: Logger;
  /** Receives every secret fetched (wire to `LogHub.redactor.add`). */
  onSecret?: SecretSink;
}

/** Status for `/api/status`. Times in ms since the epoch. */
export interface CredentialsStatus {
  valid: boolean;
  expiresAt?: number;
  refreshAt?: number;
  failures: number;
  nextAttemptAt?: number;
  lastError?: string;
}

export class RefreshingCredentials implements AsyncDisposable {
  readonly #source: AwsCredentialProvider;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #o: RefreshOptions;
  readonly #backoff: Backoff;
  #current: AwsCredentials | undefined;
  #refreshAt = 0;
  #nextAttemptAt = 0;
  #lastError: unknown;
  #inflight: Promise<AwsCredentials> | undefined;
  #loop: Promise<void> | undefined;
  #stop = new AbortController();

  constructor(source: AwsCredentialProvider, options: RefreshOptions = {}) {
    this.#source = source;
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#backoff = new Backoff({
      min: options.backoffMinMs ?? 1000,
      max: options.backoffMaxMs ?? 300_000,
      random: this.#random,
    });
  }

  /** The provider in AWS SDK v3 shape: `credentials: refreshing.provider`. */
  readonly provider: AwsCredentialProvider = () => this.get();

  /** Fresh credentials: cached, refreshed, or (while backing off) the still-valid old ones. */
  get(): Promise<AwsCredentials> {
    const now = this.#clock.now();
    const cur = this.#current;
    if (cur && now < this.#refreshAt) return Promise.resolve(cur);
    if (now < this.#nextAttemptAt) {
      if (cur && _valid(cur, now)) return Promise.resolve(cur);
      return Promise.reject(this.#unavailable());
    }
    return this.#refresh();
  }

  #unavailable(): CredentialsError {
    const err = this.#lastError;
    return new CredentialsError(
      "CREDENTIALS_FAILED",
      `AWS credentials unavailable (retry in ${this.#nextAttemptAt - this.#clock.now()} ms): ${
        err instanceof Error ? err.message : String(err)
      }`,
      { cause: err },
    );
  }

  #refresh(): Promise<AwsCredentials> {
    this.#inflight ??= (async () => {
      try {
        const creds = await this.#source();
        registerSecrets(creds, this.#o.onSecret);
        const now = this.#clock.now();
        if (creds.expiration && creds.expiration.getTime() <= now) {
          throw new CredentialsError(
            "CREDENTIALS_FAILED",
            `Fetched AWS credentials already expired at ${creds.expiration.toISOString()} ` +
              `(is the device clock right? it reads ${new Date(now).toISOString()})`,
          );
        }
        this.#current = creds;
        this.#backoff.reset();
        this.#nextAttemptAt = 0;
        this.#lastError = undefined;
        if (creds.expiration) {
          const exp = creds.expiration.getTime();
          const margin = Math.min(
            (this.#o.refreshBeforeMs ?? 300_000) + this.#random() * (this.#o.jitterMs ?? 60_000),
            Math.max(0, (exp - now) / 2),
          );
          this.#refreshAt = Math.max(now, Math.floor(exp - margin));
          this.#o.logger?.info("Fetched AWS credentials", {
            expires: creds.expiration.toISOString(),
            refreshIn: this.#refreshAt - now,
          });
        } else {
          this.#refreshAt = Infinity;
        }
        return creds;
      } catch (err) {
        const wait = this.#backoff.next();
        const now = this.#clock.now();
        this.#nextAttemptAt = now + wait;
        this.#lastError = err;
        this.#o.logger?.warn("Fetching AWS credentials failed", {
          error: err,
          retryIn: wait,
          failures: this.#backoff.attempt,
        });
        const cur = this.#current;
        if (cur && _valid(cur, now)) return cur;
        throw this.#unavailable();
      } finally {
        this.#inflight = undefined;
      }
    })();
    return this.#inflight;
  }

  /**
   * Refresh in the background until disposed or `signal` aborts: fetch now,
   * then at each refresh time, and at each backoff after a failure. Returns
   * at once; failures are logged and retried, never thrown.
   */
  start(signal?: AbortSignal): void {
    if (this.#loop) return;
    const stop = signal ? AbortSignal.any([signal, this.#stop.signal]) : this.#stop.signal;
    this.#loop = (async () => {
      while (!stop.aborted) {
        const now = this.#clock.now();
        if (now >= this.#refreshAt && now >= this.#nextAttemptAt) {
          await this.#refresh().catch(() => {});
          continue;
        }
        const due = Math.max(this.#refreshAt, this.#nextAttemptAt);
        if (due === Infinity) return; // long-term keys never expire
        try {
          await this.#clock.sleep(due - now, stop);
        } catch {
          return;
        }
      }
    })();
  }

  status(): CredentialsStatus {
    const now = this.#clock.now();
    const out: CredentialsStatus = {
      valid: !!this.#current && _valid(this.#current, now),
      failures: this.#backoff.attempt,
    };
    if (this.#current?.expiration) out.expiresAt = this.#current.expiration.getTime();
    if (Number.isFinite(this.#refreshAt) && this.#current) out.refreshAt = this.#refreshAt;
    if (this.#nextAttemptAt > now) out.nextAttemptAt = this.#nextAttemptAt;
    if (this.#lastError !== undefined) {
      out.lastError = this.#lastError instanceof Error
        ? this.#lastError.message
        : String(this.#lastError);
    }
    return out;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    await this.#inflight?.catch(() => {});
  }
}

function _valid(creds: AwsCredentials, now: number): boolean {
  return !creds.expiration || creds.expiration.getTime() > now;
}
