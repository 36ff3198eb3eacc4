/**
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential
 * Backoff And Jitter"): the wait before attempt n is uniform in
 * [0, min(max, min * 2^n)]. Used by the supervisor, MQTT reconnect, HTTP
 * retries and sync, so that a fleet never reconnects in lock step.
 *
 * Units: milliseconds.
 */

/** Options of {@linkcode fullJitter} and {@linkcode Backoff}. */
export interface BackoffOptions {
  /** Base delay in ms. @default 1000 */
  min?: number;
  /** Cap in ms. @default 60000 */
  max?: number;
  /** Random source in [0, 1). @default Math.random */
  random?: () => number;
}

/** The full-jitter delay before retry number `attempt` (0-based), in ms. */
export function fullJitter(attempt: number, options: BackoffOptions = {}): number {
  const min = options.min ?? 1000;
  const max = options.max ?? 60_000;
  const random = options.random ?? Math.random;
  const ceiling = Math.min(max, min * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** A stateful backoff: `next()` gives the next delay, `reset()` after success. */
export class Backoff {
  #attempt = 0;
  readonly #options: BackoffOptions;

  constructor(options: BackoffOptions = {}) {
    this.#options = options;
  }

  /** Attempts made since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** Delay in ms before the next attempt. */
  next(): number {
    return fullJitter(this.#attempt++, this.#options);
  }

  reset(): void {
    this.#attempt = 0;
  }
}
