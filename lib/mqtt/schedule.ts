/**
 * Connection windows: when a device may connect. A window is `from`–`to`
 * ("HH:MM", UTC) on the given week days (all days when omitted); `to` before
 * `from` spans midnight (the window belongs to the day it starts). No windows
 * means always.
 */

import type { MqttWindow } from "../config/_mqtt.ts";

const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;
const MINUTE = 60_000;
const DAY = 24 * 60;

function _minutes(hhmm: string): number {
  const [h, m] = hhmm.split(":").map(Number);
  return h! * 60 + m!;
}

/** Whether `now` (ms since epoch) falls in one of `windows` (true when there are none). */
export function inWindow(windows: readonly MqttWindow[], now: number): boolean {
  if (windows.length === 0) return true;
  const d = new Date(now);
  const minute = d.getUTCHours() * 60 + d.getUTCMinutes();
  const day = d.getUTCDay();
  return windows.some((w) => {
    const from = _minutes(w.from);
    const to = _minutes(w.to);
    const on = (dd: number) => !w.days || w.days.includes(DAYS[(dd + 7) % 7]!);
    if (from < to) return on(day) && minute >= from && minute < to;
    if (from === to) return on(day); // a whole day
    // spans midnight: evening part today, morning part from yesterday's window
    return (on(day) && minute >= from) || (on(day - 1) && minute < to);
  });
}

/**
 * ms from `now` until `inWindow` changes value (the next window start when
 * outside, the current window's end when inside); Infinity when it never does.
 */
export function msUntilChange(windows: readonly MqttWindow[], now: number): number {
  if (windows.length === 0) return Infinity;
  const state = inWindow(windows, now);
  const start = Math.floor(now / MINUTE) * MINUTE;
  for (let i = 1; i <= 8 * DAY; i++) {
    const t = start + i * MINUTE;
    if (inWindow(windows, t) !== state) return t - now;
  }
  return Infinity;
}
