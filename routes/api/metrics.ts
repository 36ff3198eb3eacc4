/**
 * Application metrics over REST, for processes outside the agent:
 *
 * - `POST /api/metrics` (user): `{ "metrics": [{ "name", "value", "type"?:
 *   "gauge" | "counter", "unit"?, "dimensions"?: { … }, "time"?: ms or ISO
 *   8601, "highResolution"?: true }] }`, 1 to 1,000 samples. Aggregated like `put()`/`count()` of
 *   the "cloud.metrics" service; 202 `{ "recorded": n }`. A bad sample is a
 *   400 naming it (`fields[0].path` "metrics.3") and nothing is recorded.
 *
 * 503 while the "cloud.metrics" service (or its `app` part) is not running.
 */

import type { BatchItem, CloudMetricsService } from "../../lib/cloud/metrics/mod.ts";
import { HttpError } from "../../lib/web/mod.ts";
import type { WebDeps } from "../deps.ts";

const MAX_ITEMS = 1000;

export function registerMetrics(d: WebDeps): void {
  d.app.post("/api/metrics", async (_req, ctx) => {
    const s = d.service?.("cloud.metrics") as CloudMetricsService | undefined;
    if (!s?.appEnabled) {
      throw new HttpError(
        503,
        "metrics_off",
        "Application metrics are off (cloud.metrics.enabled, cloud.metrics.app.enabled) or not running",
      );
    }
    const body = await ctx.json() as { metrics?: unknown } | null;
    const list = body && typeof body === "object" && !Array.isArray(body)
      ? body.metrics
      : undefined;
    if (!Array.isArray(list) || list.length < 1 || list.length > MAX_ITEMS) {
      throw new HttpError(
        400,
        "invalid",
        `Body must be { "metrics": [ 1 to ${MAX_ITEMS} samples ] }`,
        {
          fields: [{ path: "metrics", message: `an array of 1 to ${MAX_ITEMS} samples` }],
        },
      );
    }
    const items: BatchItem[] = list.map((raw, i) => toItem(raw, i));
    try {
      s.putMany(items);
    } catch (e) {
      if (!(e instanceof TypeError || e instanceof RangeError)) throw e;
      const m = /^metrics\[(\d+)\]: (.*)$/s.exec(e.message);
      throw new HttpError(400, "invalid", e.message, {
        fields: [{ path: m ? `metrics.${m[1]}` : "metrics", message: m ? m[2]! : e.message }],
      });
    }
    return Response.json({ recorded: items.length }, { status: 202 });
  }, { role: "user" });
}

const KEYS = new Set(["name", "value", "type", "unit", "dimensions", "time", "highResolution"]);

function toItem(raw: unknown, i: number): BatchItem {
  const bad = (message: string, key?: string): never => {
    throw new HttpError(400, "invalid", `metrics[${i}]: ${message}`, {
      fields: [{ path: key ? `metrics.${i}.${key}` : `metrics.${i}`, message }],
    });
  };
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    bad("a sample must be an object");
  }
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KEYS.has(k)) bad(`Unknown key "${k}"`, k);
  if (typeof o.name !== "string") bad("name must be a string", "name");
  if (typeof o.value !== "number") bad("value must be a number", "value");
  const item: BatchItem = { name: o.name as string, value: o.value as number };
  if (o.type !== undefined) item.type = o.type as BatchItem["type"];
  if (o.unit !== undefined) item.unit = o.unit as BatchItem["unit"];
  if (o.dimensions !== undefined) item.dimensions = o.dimensions as Record<string, string>;
  if (o.highResolution !== undefined) item.highResolution = o.highResolution as boolean;
  if (o.time !== undefined) {
    const t = typeof o.time === "number"
      ? o.time
      : typeof o.time === "string"
      ? Date.parse(o.time)
      : NaN;
    if (!Number.isFinite(t)) bad("time must be ms since the epoch or an ISO 8601 date", "time");
    item.time = t;
  }
  return item;
}
