/**
 * Metric families as Prometheus text (exposition format 0.0.4): `# HELP`,
 * `# TYPE`, one line per series; histograms as cumulative `_bucket{le}`
 * lines, `_sum` (6 decimals) and `_count`. Label values are escaped
 * (`\\`, `\"`, `\n`).
 */

import type { Labels, MetricFamily } from "./registry.ts";

/** Render `families` ("" for none). */
export function renderPrometheus(families: readonly MetricFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    if (f.type !== "histogram") {
      for (const s of f.series) out.push(`${f.name}${labelText(s.labels)} ${s.value}`);
      continue;
    }
    for (const h of f.series) {
      const own = h.labels ? labelPairs(h.labels) : "";
      const sep = own ? "," : "";
      let cum = 0;
      for (let i = 0; i < h.bounds.length; i++) {
        cum += h.counts[i] ?? 0;
        out.push(`${f.name}_bucket{${own}${sep}le="${h.bounds[i]}"} ${cum}`);
      }
      out.push(`${f.name}_bucket{${own}${sep}le="+Inf"} ${h.count}`);
      out.push(`${f.name}_sum${labelText(h.labels)} ${h.sum.toFixed(6)}`);
      out.push(`${f.name}_count${labelText(h.labels)} ${h.count}`);
    }
  }
  return out.length ? out.join("\n") + "\n" : "";
}

function labelText(labels: Labels | undefined): string {
  if (!labels) return "";
  const p = labelPairs(labels);
  return p ? `{${p}}` : "";
}

function labelPairs(labels: Labels): string {
  let s = "";
  for (const k in labels) s += `${s ? "," : ""}${k}="${esc(labels[k]!)}"`;
  return s;
}

function esc(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
