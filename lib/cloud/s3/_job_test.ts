import assert from "node:assert/strict";
import { MAX_PARTS, MIN_PART, partSizeFor } from "./_job.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const plan = (size: number, min = MIN_PART, max = MAX_PARTS) => {
  const part = partSizeFor(size, min, max);
  return { partMiB: part / MiB, parts: Math.ceil(size / part) };
};

Deno.test("partSizeFor() keeps the configured part size while it gives at most 10,000 parts", () => {
  assert.deepEqual(plan(5 * GiB), { partMiB: 5, parts: 1024 });
  assert.deepEqual(plan(5 * GiB, 8 * MiB), { partMiB: 8, parts: 640 });
  // 10,000 parts of 5 MiB hold 48.8 GiB; one byte more needs 6 MiB parts.
  assert.deepEqual(plan(10_000 * 5 * MiB), { partMiB: 5, parts: 10_000 });
  assert.deepEqual(plan(10_000 * 5 * MiB + 1), { partMiB: 6, parts: 8334 });
});

Deno.test("partSizeFor() raises the part size to a whole MiB for large files and low part limits", () => {
  assert.deepEqual(plan(50 * GiB), { partMiB: 6, parts: 8534 });
  assert.deepEqual(plan(5 * 1024 * GiB), { partMiB: 525, parts: 9987 });
  assert.deepEqual(plan(5 * GiB, MIN_PART, 500), { partMiB: 11, parts: 466 });
  assert.deepEqual(plan(5 * GiB, MIN_PART, 100), { partMiB: 52, parts: 99 });
  for (const size of [1, 5 * MiB, 3 * GiB + 17, 4 * 1024 * GiB]) {
    for (const max of [1000, 10_000]) {
      const { partMiB, parts } = plan(size, MIN_PART, max);
      assert.ok(partMiB >= 5 && parts <= max, `${size} in ${max}: ${partMiB} MiB × ${parts}`);
    }
  }
});

Deno.test("partSizeFor() refuses what no part size up to 5 GiB fits", () => {
  assert.throws(() => partSizeFor(10_001 * 5 * GiB, MIN_PART), RangeError);
  assert.throws(() => partSizeFor(2 * 5 * GiB + 1, MIN_PART, 2), /do not fit in 2 parts/);
});
