/**
 * How the web benchmark compares runs: each Tern run sits between two bare runs
 * (B T B T … B), and a round counts only when its two bare runs agree, in
 * req/s and in server CPU per request, i.e. the machine kept its state across
 * the round (see the notes in tests/bench/results/web.md).
 */

/** One wrk run. */
export interface Run {
  rps: number;
  p99: number;
  errors: number;
  /** Server CPU time (user + system) per request, µs. */
  cpu: number;
}

/** One Tern run with the bare runs right before and after it. */
export interface Round {
  t: Run;
  /** Bare req/s, p99 and CPU µs/req: the geometric mean of the two sides. */
  b: Run;
  /** Tern req/s ÷ bare req/s. */
  ratio: number;
  /** Bare CPU per request ÷ Tern CPU per request. */
  cpuRatio: number;
  /** The two bare runs agree (req/s and CPU per request): the machine kept its state. */
  steady: boolean;
}

/** Bare runs on both sides of a Tern run within this fraction (req/s and CPU per request). */
export const STEADY = 0.1;

export function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
}

/** Within STEADY of each other. */
function near(a: number, b: number): boolean {
  return Math.abs(a - b) <= STEADY * Math.max(a, b);
}

/** The rounds of a B T B T … B sequence (`b` has one run more than `t`). */
export function rounds(b: Run[], t: Run[]): Round[] {
  if (b.length !== t.length + 1) {
    throw new RangeError(`${t.length} Tern runs need ${t.length + 1} bare runs, not ${b.length}`);
  }
  const g = (p: number, q: number) => Math.sqrt(p * q);
  return t.map((tr, i) => {
    const [x, y] = [b[i]!, b[i + 1]!];
    const side: Run = {
      rps: g(x.rps, y.rps),
      p99: g(x.p99, y.p99),
      errors: x.errors + y.errors,
      cpu: g(x.cpu, y.cpu),
    };
    return {
      t: tr,
      b: side,
      ratio: tr.rps / side.rps,
      cpuRatio: side.cpu / tr.cpu,
      steady: near(x.rps, y.rps) && near(x.cpu, y.cpu),
    };
  });
}

/**
 * The round with the median ratio among the steady ones (all rounds when fewer than three are
 * steady), the median CPU ratio over the same rounds, and how many rounds were steady.
 */
export function summary(
  b: Run[],
  t: Run[],
): { pick: Round; cpuRatio: number; steady: number; total: number; used: Round[] } {
  const all = rounds(b, t);
  const steady = all.filter((r) => r.steady);
  const used = steady.length >= 3 ? steady : all;
  const sorted = [...used].sort((x, y) => x.ratio - y.ratio);
  return {
    pick: sorted[Math.floor(sorted.length / 2)]!,
    cpuRatio: median(used.map((r) => r.cpuRatio)),
    steady: steady.length,
    total: all.length,
    used,
  };
}
