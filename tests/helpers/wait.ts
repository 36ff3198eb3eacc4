/**
 * `until(cond)`: poll a condition in a test until it holds, or fail with a
 * message naming what was awaited. Polls every 5 ms of real time, or runs
 * `step` between checks instead (e.g. to advance a FakeClock).
 */

/** Options of {@linkcode until}. */
export interface UntilOptions {
  /** Give up after this many ms of real time. @default 5000 */
  ms?: number;
  /** What is awaited, for the timeout's message (a function: read at the timeout). @default "condition" */
  what?: string | (() => string);
  /** Run between checks instead of sleeping 5 ms. */
  step?: () => Promise<unknown>;
}

/** Resolve once `cond` is true; throw `Timed out waiting for <what>` after `ms`. */
export async function until(
  cond: () => boolean | Promise<boolean>,
  options: UntilOptions = {},
): Promise<void> {
  const end = Date.now() + (options.ms ?? 5000);
  while (!(await cond())) {
    if (Date.now() > end) {
      const what = options.what ?? "condition";
      throw new Error(`Timed out waiting for ${typeof what === "function" ? what() : what}`);
    }
    await (options.step ? options.step() : new Promise((r) => setTimeout(r, 5)));
  }
}
