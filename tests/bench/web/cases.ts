/**
 * The web benchmark's throughput cases: which agent serves each (the start
 * task's bundle with the default config, or the device maker's `device.ts` with a session,
 * the model and the documents directory), what wrk sends, and the issue's
 * target for Tern ÷ bare req/s.
 */

import type { Session } from "./configs.ts";
import type { Target } from "./load.ts";

/** One throughput case. */
export interface Case {
  name: string;
  /** Which agent serves it. */
  on: "default" | "device";
  /** Tern ÷ bare req/s the issue asks for. */
  target?: number;
  /** What wrk sends to base URL `u` with the device agent's session. */
  make(u: string, s: Session): Target;
}

export const CASES: Case[] = [
  { name: "/api/health", on: "default", target: 0.75, make: (u) => ({ url: `${u}/api/health` }) },
  {
    name: "JSON action (device.ts)",
    on: "device",
    target: 0.75,
    make: (u) => ({ url: `${u}/api/device/state` }),
  },
  {
    name: "authenticated read",
    on: "device",
    target: 0.6,
    make: (u, s) => ({ url: `${u}/api/data/Reading/${s.key}`, headers: [`Cookie: ${s.cookie}`] }),
  },
  {
    name: "authenticated write (PATCH)",
    on: "device",
    make: (u, s) => ({
      url: `${u}/api/data/Reading/${s.key}`,
      headers: [`Cookie: ${s.cookie}`, `X-XSRF-Token: ${s.xsrf}`],
      method: "PATCH",
      body: '{"value":22.5}',
    }),
  },
  {
    name: "static 1 KB, dashboard (memory)",
    on: "default",
    target: 0.75,
    make: (u) => ({ url: `${u}/style.css` }),
  },
  {
    name: "static 1 KB, documents dir",
    on: "device",
    target: 0.75,
    make: (u) => ({ url: `${u}/docs/bench-1k.bin` }),
  },
  {
    name: "static 64 KB, documents dir",
    on: "device",
    target: 1.0,
    make: (u) => ({ url: `${u}/docs/bench-64k.bin` }),
  },
  { name: "404", on: "default", make: (u) => ({ url: `${u}/api/nope`, status: 404 }) },
];
