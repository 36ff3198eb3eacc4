/**
 * The bandwidth cap of uploads (`cloud.s3.maxBandwidth`): a token bucket
 * shared by every request body in flight (the parallel parts of an upload,
 * and any PutObject). Bodies are written in chunks of `chunk` bytes
 * (`_transport.ts`), each after `take(chunk)`; a take of n bytes waits for
 * its slot, which moves the next slot n / rate seconds later (GCRA: the
 * bucket holds no more than one chunk, so an idle link earns no burst).
 * Over any window of W seconds at most `rate × W + chunk` bytes leave: at
 * 1 MiB/s and 64 KiB chunks, within 3 % over 2 s. `settle` waits until the
 * last slot's end, so an upload is never reported done sooner than its
 * bytes allowed. Rate 0: no cap.
 *
 * Units: bytes, bytes per second, ms.
 */

import type { Clock } from "../../clock.ts";

export class Pacer {
  readonly #rate: number;
  readonly #clock: Clock;
  #next = 0;
  /** Bytes per take: a sixteenth of a second at the rate, 1–64 KiB. */
  readonly chunk: number;

  constructor(rate: number, clock: Clock) {
    this.#rate = rate;
    this.#clock = clock;
    this.chunk = Math.max(1024, Math.min(65536, Math.floor(rate / 16)));
  }

  /** Whether there is a cap at all. */
  get enabled(): boolean {
    return this.#rate > 0;
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
