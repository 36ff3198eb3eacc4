// Logs: the agent's in-memory ring, live over /api/events (`logs` events),
// filtered by level and source in the page, with pause and download (JSON
// lines of what is shown).

import { live } from "../api.js";
import { download, h } from "../ui.js";

const RANK = { debug: 10, info: 20, warn: 30, error: 40 };
const MAX = 2000;

export default {
  path: "logs",
  title: "Logs",
  role: "admin",
  mount(view) {
    const records = [];
    let paused = false;
    let held = 0;
    const level = h(
      "select",
      { id: "log-level", "aria-label": "Lowest level" },
      ["debug", "info", "warn", "error"].map((l) =>
        h("option", { value: l, selected: l === "debug" }, l)
      ),
    );
    const source = h("input", {
      id: "log-source",
      type: "search",
      placeholder: "Source (web, mqtt…)",
      "aria-label": "Source",
    });
    const pause = h("button", { id: "log-pause", "aria-pressed": "false" }, "Pause");
    const count = h("span", { class: "muted", id: "log-count" });
    const body = h("tbody");
    const list = h(
      "div",
      { class: "scroll logs" },
      h(
        "table",
        { id: "log-table" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Time", "Level", "Source", "Message"].map((c) => h("th", { scope: "col" }, c)),
          ),
        ),
        body,
      ),
    );

    const visible = (r) =>
      RANK[r.level] >= RANK[level.value] &&
      (!source.value || r.source === source.value || r.source.startsWith(source.value + ".") ||
        r.source.includes(source.value));
    const row = (r) => {
      const { time, level: lv, source: src, msg, fields: f, ...rest } = r;
      const fields = { ...f, ...rest };
      const extra = Object.keys(fields).length
        ? h("code", { class: "fields" }, " " + JSON.stringify(fields))
        : null;
      return h(
        "tr",
        { class: `lv-${lv}` },
        h("td", { class: "nowrap" }, new Date(time).toLocaleTimeString()),
        h(
          "td",
          {},
          h("span", {
            class: `badge ${
              lv === "error" ? "bad" : lv === "warn" ? "warn" : lv === "info" ? "ok" : "off"
            }`,
          }, lv),
        ),
        h("td", {}, src),
        h("td", { class: "msg" }, msg, extra),
      );
    };
    const redraw = () => {
      const shown = records.filter(visible);
      body.replaceChildren(...shown.slice(-500).reverse().map(row));
      count.textContent = `${shown.length} of ${records.length} records` +
        (paused && held ? ` · ${held} new while paused` : "");
    };
    level.addEventListener("change", redraw);
    source.addEventListener("input", redraw);
    pause.addEventListener("click", () => {
      paused = !paused;
      pause.textContent = paused ? "Resume" : "Pause";
      pause.setAttribute("aria-pressed", String(paused));
      if (!paused) held = 0;
      redraw();
    });
    const save = h("button", {
      id: "log-download",
      onclick: () =>
        download(
          `tern-logs-${new Date().toISOString().slice(0, 19)}.jsonl`,
          records.filter(visible).map((r) => JSON.stringify(r)).join("\n") + "\n",
          "application/x-ndjson",
        ),
    }, "Download");
    view.append(
      h(
        "div",
        { class: "toolbar" },
        h("label", {}, "Level ", level),
        h("label", {}, "Source ", source),
        pause,
        save,
        count,
      ),
      list,
    );
    return live(["logs"], {
      hello() {
        records.length = 0; // a (re)connection sends the ring again
      },
      logs(batch) {
        records.push(...batch);
        if (records.length > MAX) records.splice(0, records.length - MAX);
        if (paused) {
          held += batch.length;
          count.textContent = `${records.length} records · ${held} new while paused`;
          return;
        }
        redraw();
      },
    });
  },
};
