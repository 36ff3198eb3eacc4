// Metrics: the last hour of the agent's own figures (its metrics registry,
// sampled by the web service every few seconds: routes/api/_history.ts), as
// SVG charts that grow live with each `sample` event of /api/events.

import { live } from "../api.js";
import { lineChart } from "../chart.js";
import { bytes, h } from "../ui.js";

const pct = (v) => `${v.toFixed(v < 10 ? 1 : 0)} %`;
const CHARTS = [
  { key: "cpu", title: "CPU", format: pct, hint: "OS metrics come from cloud.metrics (os group)" },
  {
    key: "memory",
    title: "Memory used",
    format: pct,
    hint: "OS metrics come from cloud.metrics (os group)",
  },
  { key: "rss", title: "Agent memory (RSS)", format: bytes },
  {
    key: "disk",
    title: "Disk used",
    format: pct,
    hint: "OS metrics come from cloud.metrics (os group)",
  },
  {
    key: "temperature",
    title: "Temperature",
    format: (v) => `${v.toFixed(1)} °C`,
    hint: "Needs a thermal zone the agent may read",
  },
  { key: "requests", title: "HTTP requests", format: (v) => `${v.toFixed(v < 10 ? 2 : 0)} /s` },
  { key: "queue", title: "MQTT queue", format: (v) => `${+v.toFixed(1)} msg`, hint: "MQTT is off" },
  {
    key: "spool",
    title: "Cloud stream backlog",
    format: (v) => `${+v.toFixed(1)} rec`,
    hint: "No cloud streams",
  },
];

export default {
  path: "metrics",
  title: "Metrics",
  role: "user",
  mount(view) {
    let keys = [];
    let samples = [];
    const charts = CHARTS.map((c) => ({
      ...c,
      chart: lineChart({ title: c.title, id: `chart-${c.key}`, format: c.format }),
    }));
    const grid = h("div", { class: "charts" });
    const note = h("p", { class: "muted small", id: "metrics-note" }, "Connecting…");
    view.append(note, grid);
    const draw = () => {
      const shown = [];
      for (const c of charts) {
        const i = keys.indexOf(c.key) + 1;
        const pts = i ? samples.map((s) => [s[0], s[i]]) : [];
        if (!pts.some((p) => p[1] !== null)) continue;
        c.chart.update(pts);
        shown.push(c.chart.el);
      }
      grid.replaceChildren(...shown);
      const missing = charts.filter((c) => !shown.includes(c.chart.el));
      note.textContent = `${samples.length} sample(s) over the last hour` +
        (missing.length ? ` · not available: ${missing.map((c) => c.title).join(", ")}` : "");
    };
    return live(["metrics"], {
      history(hist) {
        keys = hist.keys;
        samples = hist.samples;
        draw();
      },
      sample(s) {
        samples.push(s);
        const cut = Date.now() - 3600_000;
        while (samples.length && samples[0][0] < cut) samples.shift();
        draw();
      },
    });
  },
};
