/**
 * Request metrics in Prometheus text format (`GET /metrics`):
 * - `tern_http_requests_total{method,route,status}` counter
 * - `tern_http_request_duration_seconds{route}` histogram (time to response headers)
 * - `tern_http_active_requests` / `tern_http_active_connections` /
 *   `tern_http_stalled_tls_connections` gauges
 * - `tern_process_resident_memory_bytes`, `tern_process_heap_used_bytes`,
 *   `tern_process_heap_total_bytes`, `tern_process_external_bytes`
 *
 * Recording is one Map lookup by a number (method × 1000 + status) in the
 * route's figures, which the app keeps with the route (`slot`), and an array
 * increment: no string is built per request. Methods outside the standard seven count
 * as "OTHER", so a client inventing methods cannot grow the metrics.
 */

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

  /** The Prometheus text exposition. */
  render(): string {
    const out: string[] = [];
    out.push("# HELP tern_http_requests_total HTTP requests by method, route and status.");
    out.push("# TYPE tern_http_requests_total counter");
    for (const [r, st] of this.#routes) {
      for (const [k, v] of st.requests) {
        const m = METHODS[Math.floor(k / 1000)];
        out.push(
          `tern_http_requests_total{method="${m}",route="${esc(r)}",status="${k % 1000}"} ${v.n}`,
        );
      }
    }
    out.push("# HELP tern_http_request_duration_seconds Time to response headers.");
    out.push("# TYPE tern_http_request_duration_seconds histogram");
    for (const [r, h] of this.#routes) {
      if (h.count === 0) continue; // a route no request reached yet
      let cum = 0;
      for (let i = 0; i < BUCKETS.length; i++) {
        cum += h.counts[i]!;
        out.push(
          `tern_http_request_duration_seconds_bucket{route="${esc(r)}",le="${BUCKETS[i]}"} ${cum}`,
        );
      }
      out.push(`tern_http_request_duration_seconds_bucket{route="${esc(r)}",le="+Inf"} ${h.count}`);
      out.push(`tern_http_request_duration_seconds_sum{route="${esc(r)}"} ${h.sum.toFixed(6)}`);
      out.push(`tern_http_request_duration_seconds_count{route="${esc(r)}"} ${h.count}`);
    }
    out.push("# HELP tern_http_active_requests Requests being handled.");
    out.push("# TYPE tern_http_active_requests gauge");
    out.push(`tern_http_active_requests ${this.active}`);
    if (this.connections >= 0) {
      out.push("# HELP tern_http_active_connections Open client sockets.");
      out.push("# TYPE tern_http_active_connections gauge");
      out.push(`tern_http_active_connections ${this.connections}`);
      out.push(
        "# HELP tern_http_stalled_tls_connections Sockets stuck in a TLS handshake past the header timeout (open until the client leaves; not counted as connections).",
      );
      out.push("# TYPE tern_http_stalled_tls_connections gauge");
      out.push(`tern_http_stalled_tls_connections ${this.tlsStalled}`);
    }
    const mem = Deno.memoryUsage();
    out.push("# HELP tern_process_resident_memory_bytes Resident set size.");
    out.push("# TYPE tern_process_resident_memory_bytes gauge");
    out.push(`tern_process_resident_memory_bytes ${mem.rss}`);
    out.push("# HELP tern_process_heap_used_bytes V8 heap in use.");
    out.push("# TYPE tern_process_heap_used_bytes gauge");
    out.push(`tern_process_heap_used_bytes ${mem.heapUsed}`);
    out.push("# HELP tern_process_heap_total_bytes V8 heap committed.");
    out.push("# TYPE tern_process_heap_total_bytes gauge");
    out.push(`tern_process_heap_total_bytes ${mem.heapTotal}`);
    out.push(
      "# HELP tern_process_external_bytes Memory of JS objects outside the V8 heap (buffers).",
    );
    out.push("# TYPE tern_process_external_bytes gauge");
    out.push(`tern_process_external_bytes ${mem.external}`);
    return out.join("\n") + "\n";
  }
}

function esc(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
