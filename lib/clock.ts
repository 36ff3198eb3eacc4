/**
 * Time, injected. Everything that waits, backs off or expires reads a `Clock`
 * so tests can run fake time instead of sleeping.
 *
 * Units: milliseconds since the Unix epoch for `now()`, milliseconds for `sleep()`.
 */

/** A source of time and a way to wait. */
export interface Clock {
  /** Current time in ms since the epoch. */
  now(): number;
  /** Resolve after `ms`; reject with the signal's reason when aborted first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("Aborted", "AbortError");
}

/** The real clock: `Date.now()` and `setTimeout`. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        reject(abortReason(signal!));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, Math.max(0, ms));
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  },
};

interface _Sleeper {
  at: number;
  seq: number;
  resolve: () => void;
}

/**
 * A clock that only moves when told to. `advance(ms)` wakes every sleeper due
 * by the new time, in order, letting each one's continuation run before the
 * next is woken.
 */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #sleepers: _Sleeper[] = [];

  /** @param start initial time in ms since the epoch @default 1_700_000_000_000 */
  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** Number of pending sleeps (useful to wait until code reached a sleep). */
  get pending(): number {
    return this.#sleepers.length;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise((resolve, reject) => {
      const sleeper: _Sleeper = { at: this.#now + Math.max(0, ms), seq: this.#seq++, resolve };
      const onAbort = () => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        reject(abortReason(signal!));
      };
      sleeper.resolve = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      this.#sleepers.push(sleeper);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Move time forward by `ms`, waking due sleepers in time order. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      await _settle();
      const due = this.#sleepers
        .filter((s) => s.at <= target)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.#sleepers = this.#sleepers.filter((s) => s !== due);
      this.#now = Math.max(this.#now, due.at);
      due.resolve();
    }
    this.#now = target;
    await _settle();
  }

  /** Resolve once some code is sleeping on this clock (polls microtasks and macrotasks). */
  async waitForSleepers(count = 1, timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.#sleepers.length < count) {
      if (Date.now() > end) throw new Error(`Timed out waiting for ${count} sleeper(s)`);
      await new Promise((r) => setTimeout(r, 1));
    }
  }
}

async function _settle(): Promise<void> {
  // Let promise continuations and zero-delay timers run.
  for (let i = 0; i < 5; i++) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
}
