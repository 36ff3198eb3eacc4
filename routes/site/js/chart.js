// A small line chart in plain SVG: one series of [t, value] points, time on
// the x axis (the last `span` ms), min/max labels on the y axis. Redrawn
// whole on each update (a few hundred points: cheap).

import { h, s } from "./ui.js";

const W = 480, H = 200, L = 64, B = 28, T = 10, R = 10;

/** `lineChart({ title, unit, format })` → { el, update(points, span) }. */
export function lineChart({ title, id, format = (v) => String(v) }) {
  const svg = s("svg", {
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-label": title,
    class: "chart",
  });
  const now = h("strong", { class: "now" }, "–");
  const el = h(
    "figure",
    { class: "card chart-card", id },
    h("figcaption", {}, h("span", {}, title), now),
    svg,
  );
  function update(points, maxSpan = 3600_000) {
    const end = Date.now();
    // The whole history while it is shorter than the span (a young agent fills the width).
    const first = points.find((p) => p[1] !== null)?.[0] ?? end;
    const span = Math.min(maxSpan, Math.max(30_000, end - first));
    const start = end - span;
    const pts = points.filter((p) => p[0] >= start && p[1] !== null);
    const last = pts.at(-1);
    now.textContent = last ? format(last[1]) : "no data";
    svg.setAttribute("aria-label", `${title}: ${last ? format(last[1]) : "no data"}`);
    const lo = Math.min(...pts.map((p) => p[1]), 0);
    let hi = Math.max(...pts.map((p) => p[1]), 1);
    if (hi === lo) hi = lo + 1;
    const x = (t) => L + ((t - start) / span) * (W - L - R);
    const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
    const d = pts.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(
      "",
    );
    const grid = [0, 0.5, 1].map((f) => {
      const v = lo + f * (hi - lo);
      return [
        s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }),
        s("text", { x: L - 6, y: y(v) + 6, "text-anchor": "end", class: "axis" }, format(v)),
      ];
    });
    const ticks = [0, 15, 30, 45, 60].map((m) => {
      const t = start + (m / 60) * span;
      const left = (span / 1000) * (1 - m / 60);
      const label = span < 300_000 ? `−${Math.round(left)} s` : `−${Math.round(left / 60)} min`;
      return s("text", {
        x: x(t),
        y: H - 6,
        "text-anchor": m === 0 ? "start" : m === 60 ? "end" : "middle",
        class: "axis",
      }, m === 60 ? "now" : label);
    });
    const area = `L${x(last?.[0] ?? end).toFixed(1)},${y(lo)}L${x(pts[0]?.[0] ?? end).toFixed(1)},${
      y(lo)
    }Z`;
    svg.replaceChildren(
      ...grid.flat(),
      ...ticks,
      ...(d ? [s("path", { d: d + area, class: "area" }), s("path", { d, class: "line" })] : [
        s("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "axis" }, "no data"),
      ]),
      ...(pts.length < 30
        ? pts.map((p) => s("circle", { cx: x(p[0]), cy: y(p[1]), r: 3, class: "dot" }))
        : []),
    );
  }
  return { el, update };
}
