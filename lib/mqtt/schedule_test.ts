import { equal } from "node:assert/strict";
import { inWindow, msUntilChange } from "./schedule.ts";

const at = (iso: string) => Date.parse(iso);

Deno.test("inWindow: plain windows, week days and windows across midnight (UTC)", () => {
  const w = [{ from: "08:00", to: "09:30" }];
  equal(inWindow([], at("2026-01-05T03:00:00Z")), true);
  equal(inWindow(w, at("2026-01-05T08:00:00Z")), true);
  equal(inWindow(w, at("2026-01-05T09:30:00Z")), false);
  equal(inWindow(w, at("2026-01-05T07:59:00Z")), false);
  // 2026-01-05 is a Monday
  const mon = [{ days: ["mon" as const], from: "08:00", to: "09:00" }];
  equal(inWindow(mon, at("2026-01-05T08:30:00Z")), true);
  equal(inWindow(mon, at("2026-01-06T08:30:00Z")), false);
  const night = [{ days: ["mon" as const], from: "23:00", to: "01:00" }];
  equal(inWindow(night, at("2026-01-05T23:30:00Z")), true);
  equal(inWindow(night, at("2026-01-06T00:30:00Z")), true, "Monday's window runs into Tuesday");
  equal(inWindow(night, at("2026-01-05T00:30:00Z")), false, "Sunday had no window");
});

Deno.test("msUntilChange gives the time to the next start or the current end", () => {
  const w = [{ from: "08:00", to: "09:00" }];
  equal(msUntilChange(w, at("2026-01-05T07:00:00Z")), 3_600_000);
  equal(msUntilChange(w, at("2026-01-05T08:15:00Z")), 45 * 60_000);
  equal(msUntilChange(w, at("2026-01-05T09:00:30Z")), 23 * 3_600_000 - 30_000);
  equal(msUntilChange([], 0), Infinity);
});
