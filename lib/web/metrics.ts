/**
 * Request metrics in Prometheus text format (`GET /metrics`):
 * - `tern_http_requests_total{method,route,status}` counter
 * - `tern_http_request_duration_seconds{route}` histogram (time to response headers)
 * - `tern_http_active_requests` / `tern_http_active_connections` gauges
 * - `tern_process_resident_memory_bytes`, `tern_process_heap_used_bytes`
 *
 * Recording is two Map lookups and an array increment per request.
 */

/** Histogram bucket bounds in seconds. */
const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface _Hist {
  counts: number[];
  sum: number;
  count: number;
}

export class WebMetrics {
  #requests = new Map<string, number>();
  #hist = new Map<string, _Hist>();
  /** Requests being handled now. */
  active = 0;
  /** Open sockets (guarded engine only; -1 when unknown). */
  connections = -1;

  /** Count one finished request; `ms` is the time to response headers. */
  record(method: string, route: string, status: number, ms: number): void {
    const key = `${method}\u0000${route}\u0000${status}`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    let h = this.#hist.get(route);
    if (!h) {
      this.#hist.set(route, h = { counts: new Array(BUCKETS.length).fill(0), sum: 0, count: 0 });
    }
    const s = ms / 1000;
    for (let i = 0; i < BUCKETS.length; i++) {
      if (s <= BUCKETS[i]!) {
        h.counts[i]!++;
        break;
      }
    }
    h.sum += s;
    h.count++;
  }

  /** Requests counted for a route and status (tests, status page). */
  count(route: string, status?: number): number {
    let n = 0;
    for (const [k, v] of this.#requests) {
      const [, r, st] = k.split("\u0000");
      if (r === route && (status === undefined || Number(st) === status)) n += v;
    }
    return n;
  }

  /** The Prometheus text exposition. */
  render(): string {
    const out: string[] = [];
    out.push("# HELP tern_http_requests_total HTTP requests by method, route and status.");
    out.push("# TYPE tern_http_requests_total counter");
    for (const [k, v] of this.#requests) {
      const [m, r, s] = k.split("\u0000");
      out.push(`tern_http_requests_total{method="${m}",route="${esc(r!)}",status="${s}"} ${v}`);
    }
    out.push("# HELP tern_http_request_duration_seconds Time to response headers.");
    out.push("# TYPE tern_http_request_duration_seconds histogram");
    for (const [r, h] of this.#hist) {
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
    }
    const mem = Deno.memoryUsage();
    out.push("# HELP tern_process_resident_memory_bytes Resident set size.");
    out.push("# TYPE tern_process_resident_memory_bytes gauge");
    out.push(`tern_process_resident_memory_bytes ${mem.rss}`);
    out.push("# HELP tern_process_heap_used_bytes V8 heap in use.");
    out.push("# TYPE tern_process_heap_used_bytes gauge");
    out.push(`tern_process_heap_used_bytes ${mem.heapUsed}`);
    return out.join("\n") + "\n";
  }
}

function esc(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
