/**
 * The `agent`, `log` and `device` sections.
 *
 * ```json5
 * agent: { state: "./state", mode: "local", stopTimeout: 10000, restart: { min: 1000, max: 60000 } },
 * log: { level: "info", sources: { mqtt: "debug" }, format: "auto",
 *        file: { path: "logs/tern.log", maxSize: 10485760, maxFiles: 5 }, ring: 1000, redact: [] },
 * device: { id: "pump-0042", thing: "pump-0042", name: "Pump 42", model: "P1" }   // device.json5
 * ```
 */

import * as z from "../validate/mod.ts";
import { LEVELS } from "../log/mod.ts";
import { bytes, ms } from "./_types.ts";

export const agentSection = z.strictObject({
  /** State directory (database, sessions, logs, keys); relative to the working dir. Created 0700. */
  state: z.string().min(1).default("./state"),
  /** "local": web server and database only; "cloud": cloud services may be enabled. */
  mode: z.enum(["local", "cloud"]).default("local"),
  /** Graceful stop deadline in ms for all services together. */
  stopTimeout: ms().default(10_000),
  /** Backoff for restarting a failed service, in ms. */
  restart: z.strictObject({
    min: ms().default(1_000),
    max: ms().default(60_000),
  }).prefault({}),
}).prefault({});

const level = z.enum(LEVELS);

export const logSection = z.strictObject({
  level: level.default("info"),
  /** Per-source levels by source prefix, e.g. { "mqtt": "debug", "web.access": "off" }. */
  sources: z.record(z.string().min(1), level).default({}),
  /** Console format: "auto" is text on a terminal, JSON lines otherwise. */
  format: z.enum(["auto", "text", "json"]).default("auto"),
  /** Rotating JSON-lines file; a relative path is under the state directory. Omit for no file. */
  file: z.strictObject({
    path: z.string().min(1).default("logs/tern.log"),
    maxSize: bytes().min(4096).default(10 * 1024 * 1024),
    maxFiles: z.number().int().min(1).max(100).default(5),
  }).optional(),
  /** Records kept in memory for /api/logs. */
  ring: z.number().int().min(10).max(100_000).default(1000),
  /** Extra config key paths whose values are secrets (redacted from every log line). */
  redact: z.array(z.string().min(1)).default([]),
}).prefault({});

export const deviceSection = z.strictObject({
  /** Device id; when omitted the agent generates one at first start and keeps it in the state dir. */
  id: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, "letters, digits and _ . : - (1 to 128)")
    .optional(),
  /** AWS IoT thing name. @default device.id */
  thing: z.string().regex(/^[A-Za-z0-9_:-]{1,128}$/, "letters, digits and _ : - (1 to 128)")
    .optional(),
  /** Human name shown in the dashboard. */
  name: z.string().max(200).optional(),
  /** Product model. */
  model: z.string().max(200).optional(),
}).prefault({});
