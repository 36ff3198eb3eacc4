// Device shadows: each configured shadow's desired and reported state side
// by side, the delta, version and what waits to be sent (local copy: works
// offline).

import { api } from "../api.js";
import { ago, card, facts, h, text } from "../ui.js";

function pairs(desired = {}, reported = {}, delta = {}) {
  const keys = [...new Set([...Object.keys(desired || {}), ...Object.keys(reported || {})])].sort();
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      { class: "shadow" },
      h(
        "thead",
        {},
        h("tr", {}, ["Field", "Desired", "Reported"].map((c) => h("th", { scope: "col" }, c))),
      ),
      h(
        "tbody",
        {},
        keys.map((k) =>
          h(
            "tr",
            { class: delta && k in delta ? "delta" : "" },
            h("td", {}, k),
            h("td", {}, text(desired?.[k])),
            h("td", {}, text(reported?.[k])),
          )
        ),
      ),
    ),
  );
}

export default {
  path: "shadow",
  title: "Shadow",
  service: "cloud.shadow",
  role: "user",
  async mount(view) {
    let list;
    try {
      list = await api("GET", "/api/shadow");
    } catch (e) {
      view.append(h("p", { class: "muted", id: "shadow-off" }, e.message));
      return;
    }
    const names = (list.shadows || []).map((s) => s.name ?? s);
    if (!names.length) {
      view.append(h("p", { class: "muted" }, "No shadows are configured (cloud.shadow.shadows)."));
    }
    for (const name of names) {
      const s = await api("GET", `/api/shadow/${encodeURIComponent(name)}`);
      view.append(card(
        name || "(classic)",
        facts([
          ["Thing", text(s.status?.thing ?? "–")],
          ["Direction", text(s.status?.direction ?? "–")],
          ["Version", text(s.version ?? "–")],
          ["Last sync", ago(s.status?.lastSync)],
          ["Waiting to send", `${s.status?.pending ?? 0} field(s)`],
          ...(s.status?.lastError
            ? [["Last error", h("span", { class: "error" }, text(s.status.lastError))]]
            : []),
        ]),
        pairs(s.desired, s.reported, s.delta),
      ));
    }
  },
};
