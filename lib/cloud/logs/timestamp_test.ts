import assert from "node:assert/strict";
import { lineTime } from "./_timestamp.ts";

Deno.test("lineTime() reads ISO times with any fraction and zone, line after line", () => {
  const now = Date.parse("2026-06-01T00:00:00Z");
  const cases: [string, string | undefined][] = [
    ["2026-01-02T03:04:05.678Z INFO a", "2026-01-02T03:04:05.678Z"],
    ["2026-01-02T03:04:05.6Z b", "2026-01-02T03:04:05.600Z"],
    ["2026-01-02T03:04:05.67Z c", "2026-01-02T03:04:05.670Z"],
    ["2026-01-02T03:04:05.123456789Z d", "2026-01-02T03:04:05.123Z"],
    ["2026-01-02T03:04:05Z e", "2026-01-02T03:04:05.000Z"],
    // The same second in another zone is another instant (the cached second must not leak).
    ["2026-01-02 03:04:05,250+0100 f", "2026-01-02T02:04:05.250Z"],
    ["[2026-01-02T03:04:05.250+01:00] g", "2026-01-02T02:04:05.250Z"],
    ["2026-01-02T03:04:06.001Z h", "2026-01-02T03:04:06.001Z"],
    ["2026-13-02T03:04:05Z bad month", undefined],
    ["<34>1 2026-01-02T03:04:05.5Z host app - - msg", "2026-01-02T03:04:05.500Z"],
  ];
  for (const [line, want] of cases) {
    const got = lineTime(line, now);
    assert.equal(got === undefined ? undefined : new Date(got).toISOString(), want, line);
  }
  // Without a zone: local time, as Date.parse reads it.
  assert.equal(lineTime("2026-01-02T03:04:05.5 x", now), Date.parse("2026-01-02T03:04:05.500"));
});
