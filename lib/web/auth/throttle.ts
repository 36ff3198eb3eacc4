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
 * State is in memory (bounded to `maxKeys`, oldest evicted) and, with a
 * `store`, written through to the database, so a restart (a crash, a power
 * cut) does not lift a lockout. A key is forgotten `lockout` ms after its
 * last wait ended without a new failure.
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
  /** Where the state survives a restart. @default memory only */
  store?: ThrottleStore;
}

/** Persistence of the throttle: the agent keeps it in the database (`_LoginThrottle`). */
export interface ThrottleStore {
  /** Every remembered key: failures and the end of its wait (ms since epoch). */
  load(): Iterable<{ key: string; failures: number; until: number }>;
  /** Remember a key until `forget` (ms since epoch). */
  save(key: string, failures: number, until: number, forget: number): void;
  remove(key: string): void;
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

  readonly #store: ThrottleStore | undefined;

  constructor(options: ThrottleOptions) {
    const { store, ...rest } = options;
    this.#o = {
      maxFailures: 5,
      lockout: 15 * 60_000,
      delay: 250,
      maxKeys: 10_000,
      ...rest,
    } as Required<ThrottleOptions>;
    this.#store = store;
    if (!store) return;
    const now = this.#o.clock.now();
    for (const e of this.#persisted(() => store.load()) ?? []) {
      if (e.until + this.#o.lockout > now) {
        this.#map.set(e.key, { failures: e.failures, until: e.until });
      }
    }
  }

  /** Run a store call; a failing database must not fail a login (memory still throttles). */
  #persisted<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch {
      return undefined;
    }
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
      // A lockout that has passed, or a long quiet, starts a fresh count.
      if (
        (e.failures >= this.#o.maxFailures && e.until <= now) ||
        e.until + this.#o.lockout <= now
      ) e.failures = 0;
      e.failures++;
      e.until = now +
        (e.failures >= this.#o.maxFailures
          ? this.#o.lockout
          : this.#o.delay * 2 ** (e.failures - 1));
      this.#map.delete(k);
      this.#map.set(k, e);
      this.#persisted(() => this.#store?.save(k, e.failures, e.until, e.until + this.#o.lockout));
    }
    while (this.#map.size > this.#o.maxKeys) {
      const oldest = this.#map.keys().next().value!;
      this.#map.delete(oldest);
      this.#persisted(() => this.#store?.remove(oldest));
    }
  }

  success(user: string, addr: string): void {
    for (const k of [`u:${user.toLowerCase()}`, `a:${addressKey(addr)}`]) {
      if (this.#map.delete(k)) this.#persisted(() => this.#store?.remove(k));
    }
  }
}
