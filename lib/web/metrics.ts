/**
 * Request metrics in Prometheus text format (`GET /metrics`):
 * - `tern_http_requests_total{method,route,status}` counter
 * - `tern_http_request_duration_seconds{route}` histogram (time to response headers)
 * - `tern_http_active_requests` / `tern_http_active_connections` /
 *   `tern_http_stalled_tls_connections` gauges
 * - (`render()` alone, for an app without the agent's registry) the process
 *   series of lib/metrics/process.ts
 *
 * `families()` gives the same series to the agent's one registry
 * (lib/metrics), which renders `/metrics` and feeds CloudWatch (requests as
 * `HttpRequests` by RouteClass and StatusClass, durations as `HttpLatency`).
 *
 * Recording is one Map lookup by a number (method × 1000 + status) in the
 * route's figures, which the app keeps with the route (`slot`), and an array
 * increment: no string is built per request. Methods outside the standard seven count
 * as "OTHER", so a client inventing methods cannot grow the metrics.
 */

import type { HistogramSeries, MetricFamily, Series } from "../metrics/registry.ts";
import { renderPrometheus } from "../metrics/prometheus.ts";
import { processFamilies } from "../metrics/process.ts";

/** Histogram bucket bounds in seconds. */
const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"];

/** Index of a method in METHODS; anything unknown is "OTHER" (the last). */
function methodIndex(m: string): number {
  if (m === "GET") return 0; // most requests: one comparison
  const i = METHODS.indexOf(m);
  return i < 0 ? METHODS.length - 1 : i;
}

/** One route's figures; {@linkcode WebMetrics.slot} hands it out so callers can keep it. */
export interface RouteStats {
  /** method index × 1000 + status → count (boxed: counting is a lookup, not a store) */
  requests: Map<number, { n: number }>;
  counts: number[];
  sum: number;
  count: number;
}

export class WebMetrics {
  #routes = new Map<string, RouteStats>();
  /** Requests being handled now. */
  active = 0;
  /** Open sockets (guarded engine only; -1 when unknown). */
  connections = -1;
  /** Sockets stuck in a TLS handshake past the header timeout (not in `connections`). */
  tlsStalled = 0;

  /** Count one finished request; `ms` is the time to response headers. */
  record(method: string, route: string, status: number, ms: number): void {
    this.recordIn(this.slot(route), method, status, ms);
  }

  /** The figures of `route` (created empty the first time, shown once counted), for `recordIn`. */
  slot(route: string): RouteStats {
    let r = this.#routes.get(route);
    if (!r) {
      this.#routes.set(
        route,
        r = { requests: new Map(), counts: new Array(BUCKETS.length).fill(0), sum: 0, count: 0 },
      );
    }
    return r;
  }

  /** `record` with the route's figures at hand; `ms` NaN counts the request without a duration. */
  recordIn(r: RouteStats, method: string, status: number, ms: number): void {
    const key = methodIndex(method) * 1000 + status;
    const c = r.requests.get(key);
    if (c === undefined) r.requests.set(key, { n: 1 });
    else c.n++;
    if (ms !== ms) return; // NaN: no trustworthy duration (the wall clock stepped)
    const s = ms / 1000;
    for (let i = 0; i < BUCKETS.length; i++) {
      if (s <= BUCKETS[i]!) {
        r.counts[i]!++;
        break;
      }
    }
    r.sum += s;
    r.count++;
  }

  /** Requests counted for a route and status (tests, status page). */
  count(route: string, status?: number): number {
    let n = 0;
    for (const [k, v] of this.#routes.get(route)?.requests ?? []) {
      if (status === undefined || k % 1000 === status) n += v.n;
    }
    return n;
  }

  /** The request families, for the registry (lib/metrics); CloudWatch gets them by route class. */
  families(): MetricFamily[] {
    const requests: Series[] = [];
    for (const [r, st] of this.#routes) {
      for (const [k, v] of st.requests) {
        requests.push({
          labels: { method: METHODS[Math.floor(k / 1000)]!, route: r, status: String(k % 1000) },
          value: v.n,
        });
      }
    }
    const durations: HistogramSeries[] = [];
    for (const [r, h] of this.#routes) {
      if (h.count === 0) continue; // a route no request reached yet
      durations.push({
        labels: { route: r },
        bounds: BUCKETS,
        counts: h.counts,
        sum: h.sum,
        count: h.count,
      });
    }
    const out: MetricFamily[] = [{
      name: "tern_http_requests_total",
      help: "HTTP requests by method, route and status.",
      type: "counter",
      cloud: {
        name: "HttpRequests",
        unit: "Count",
        dimensions: (l) => ({ RouteClass: routeClass(l.route!), StatusClass: `${l.status![0]}xx` }),
      },
      series: requests,
    }, {
      name: "tern_http_request_duration_seconds",
      help: "Time to response headers.",
      type: "histogram",
      cloud: {
        name: "HttpLatency",
        unit: "Milliseconds",
        scale: 1000,
        dimensions: (l) => ({ RouteClass: routeClass(l.route!) }),
      },
      series: durations,
    }, {
      name: "tern_http_active_requests",
      help: "Requests being handled.",
      type: "gauge",
      series: [{ value: this.active }],
    }];
    if (this.connections >= 0) {
      out.push({
        name: "tern_http_active_connections",
        help: "Open client sockets.",
        type: "gauge",
        series: [{ value: this.connections }],
      }, {
        name: "tern_http_stalled_tls_connections",
        help:
          "Sockets stuck in a TLS handshake past the header timeout (open until the client leaves; not counted as connections).",
        type: "gauge",
        series: [{ value: this.tlsStalled }],
      });
    }
    return out;
  }

  /** The Prometheus text exposition of the requests and the process (without a registry). */
  render(): string {
    return renderPrometheus([...this.families(), ...processFamilies()]);
  }
}

/** The class of a route for CloudWatch: its first path segment ("/api/data/:model" → "api"), or the status route ("404"). */
export function routeClass(route: string): string {
  if (!route.startsWith("/")) return route;
  const seg = route.split("/")[1] ?? "";
  return seg === "" ? "root" : seg.startsWith(":") || seg === "*" ? "param" : seg.slice(0, 64);
}
