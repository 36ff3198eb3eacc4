/**
 * A small seeded random generator (mulberry32) for the tests that send
 * random input: the seed comes from `TERN_FUZZ_SEED` or the clock, and the
 * test names it on failure so the run can be replayed.
 *
 * ```ts
 * const { seed, rnd, pick } = seeded();
 * pick(["a", "b"]); // with rnd() in [0, 1)
 * ```
 */

/** The run's seed, its generator and a picker over it. */
export function seeded(): {
  seed: number;
  rnd: () => number;
  pick: <T>(a: readonly T[]) => T;
} {
  const seed = Number(Deno.env.get("TERN_FUZZ_SEED") ?? Date.now() % 1_000_000);
  let s = seed | 0;
  const rnd = () => {
    s = (s + 0x6D2B79F5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { seed, rnd, pick: <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]! };
}
