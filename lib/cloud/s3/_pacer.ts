/**
 * The bandwidth cap of uploads: a pacer that gives each send a slot so the
 * average rate stays at most `rate` bytes per second. A send of n bytes
 * waits for its slot (`take`), which moves the next slot n / rate seconds
 * later; `settle` waits until the last slot's end, so an upload is never
 * reported done sooner than its bytes allowed. A part goes at the link's
 * speed once started (its body is one buffer): the cap holds on average over
 * the parts, not within one. Rate 0: no cap.
 *
 * Units: bytes, bytes per second, ms.
 */

import type { Clock } from "../../clock.ts";

export class Pacer {
  readonly #rate: number;
  readonly #clock: Clock;
  #next = 0;

  constructor(rate: number, clock: Clock) {
    this.#rate = rate;
    this.#clock = clock;
  }

  /** Wait for the slot of a send of `bytes`. */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.#rate <= 0) return;
    const now = this.#clock.now();
    const start = Math.max(now, this.#next);
    this.#next = start + (bytes / this.#rate) * 1000;
    if (start > now) await this.#clock.sleep(start - now, signal);
  }

  /** Wait until the bytes taken so far fit under the rate. */
  async settle(signal?: AbortSignal): Promise<void> {
    if (this.#rate <= 0) return;
    const wait = this.#next - this.#clock.now();
    if (wait > 0) await this.#clock.sleep(wait, signal);
  }
}
