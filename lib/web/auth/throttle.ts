/**
 * Login throttling, per user name and per client address. After each
 * failure the key must wait `delay × 2^(failures-1)` ms before the next
 * attempt; at `maxFailures` it is locked out for `lockout` ms. A success
 * clears the user's and the address's record. Attempts during a wait get
 * 429 with `Retry-After`, without checking the password.
 *
 * IPv6 clients are counted per /64 (one host usually owns a whole /64 and
 * can rotate through it), IPv4 clients per address.
 *
 * State is in memory (bounded to `maxKeys`, oldest evicted): a restart
 * forgets it, which an attacker gains little from since restarts are rare
 * and logged.
 */

import type { Clock } from "../../clock.ts";

/** Options of {@linkcode LoginThrottle}. */
export interface ThrottleOptions {
  clock: Clock;
  /** @default 5 */
  maxFailures?: number;
  /** ms. @default 900000 */
  lockout?: number;
  /** First delay in ms, doubling per failure. @default 250 */
  delay?: number;
  /** Keys remembered. @default 10000 */
  maxKeys?: number;
}

interface _Entry {
  failures: number;
  /** No attempt before this time (ms since epoch). */
  until: number;
}

/** The throttling key of a client address: IPv4 as is, IPv6 by its /64 prefix. */
export function addressKey(addr: string): string {
  if (!addr.includes(":")) return addr;
  const v4mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  if (v4mapped) return v4mapped[1]!;
  const [head = "", tail = ""] = addr.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const full = addr.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  return full.slice(0, 4).map((x) => x.toLowerCase().replace(/^0+(?=.)/, "")).join(":") + "::/64";
}

export class LoginThrottle {
  readonly #o: Required<ThrottleOptions>;
  #map = new Map<string, _Entry>();

  constructor(options: ThrottleOptions) {
    this.#o = { maxFailures: 5, lockout: 15 * 60_000, delay: 250, maxKeys: 10_000, ...options };
  }

  /** ms to wait before trying `user` from `addr` (0: go ahead). */
  wait(user: string, addr: string): number {
    const now = this.#o.clock.now();
    let w = 0;
    for (const k of [`u:${user.toLowerCase()}`, `a:${addressKey(addr)}`]) {
      const e = this.#map.get(k);
      if (e && e.until > now) w = Math.max(w, e.until - now);
    }
    return w;
  }

  /** True when `user` or `addr` is locked out (not just delayed). */
  locked(user: string, addr: string): boolean {
    return [`u:${user.toLowerCase()}`, `a:${addressKey(addr)}`].some((k) =>
      (this.#map.get(k)?.failures ?? 0) >= this.#o.maxFailures && this.wait(user, addr) > 0
    );
  }

  failure(user: string, addr: string): void {
    const now = this.#o.clock.now();
    for (const k of [`u:${user.toLowerCase()}`, `a:${addressKey(addr)}`]) {
      const e = this.#map.get(k) ?? { failures: 0, until: 0 };
      // A lockout that has passed starts a fresh count.
      if (e.failures >= this.#o.maxFailures && e.until <= now) e.failures = 0;
      e.failures++;
      e.until = now +
        (e.failures >= this.#o.maxFailures
          ? this.#o.lockout
          : this.#o.delay * 2 ** (e.failures - 1));
      this.#map.delete(k);
      this.#map.set(k, e);
    }
    while (this.#map.size > this.#o.maxKeys) this.#map.delete(this.#map.keys().next().value!);
  }

  success(user: string, addr: string): void {
    this.#map.delete(`u:${user.toLowerCase()}`);
    this.#map.delete(`a:${addressKey(addr)}`);
  }
}
