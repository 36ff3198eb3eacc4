// Audit events (admin): the hash-chained trail, newest first, filtered by
// action prefix, actor and outcome, a page at a time; the chain verified.

import { api } from "../api.js";
import { badge, h, table, time } from "../ui.js";

export default {
  path: "audit",
  title: "Audit",
  service: "audit",
  role: "admin",
  async mount(view) {
    const action = h("input", {
      type: "search",
      name: "action",
      placeholder: "auth.",
      "aria-label": "Action",
    });
    const actor = h("input", {
      type: "search",
      name: "actor",
      placeholder: "user:alice",
      "aria-label": "Actor",
    });
    const outcome = h(
      "select",
      { name: "outcome", "aria-label": "Outcome" },
      ["", "success", "failure", "denied"].map((o) => h("option", { value: o }, o || "any")),
    );
    const box = h("div", { id: "audit" });
    const chain = h("p", { class: "muted", id: "audit-chain" });
    const more = h("button", { hidden: true }, "More");
    let after;
    const load = async (append) => {
      const q = new URLSearchParams({ order: "desc", limit: "50" });
      if (action.value) q.set("action", action.value);
      if (actor.value) q.set("actor", actor.value);
      if (outcome.value) q.set("outcome", outcome.value);
      if (append && after) q.set("after", after);
      try {
        const r = await api("GET", `/api/audit?${q}`);
        after = r.next;
        more.hidden = !r.next;
        const rows = r.events.map((e) => [
          time(e.time),
          e.action,
          `${e.actor?.type}:${e.actor?.id}`,
          e.target || "",
          badge(
            e.outcome,
            e.outcome === "success" ? "ok" : e.outcome === "denied" ? "warn" : "bad",
          ),
          e.source || "",
          e.details ? h("code", {}, JSON.stringify(e.details)) : "",
        ]);
        const t = table(
          ["Time", "Action", "Actor", "Target", "Outcome", "Source", "Details"],
          rows,
          { id: "audit-table" },
        );
        if (append) box.querySelector("tbody")?.append(...t.querySelectorAll("tbody tr"));
        else box.replaceChildren(t);
      } catch (e) {
        box.replaceChildren(h("p", { class: "muted" }, e.message));
      }
    };
    more.addEventListener("click", () => load(true));
    view.append(
      h(
        "form",
        { class: "toolbar", onsubmit: (e) => (e.preventDefault(), load(false)) },
        h("label", {}, "Action ", action),
        h("label", {}, "Actor ", actor),
        h("label", {}, "Outcome ", outcome),
        h("button", { type: "submit" }, "Filter"),
      ),
      chain,
      box,
      more,
    );
    api("GET", "/api/audit/verify").then((v) => {
      chain.replaceChildren(
        v.ok ? badge("chain verified", "ok") : badge(`chain broken at ${v.broken?.seq}`, "bad"),
        ` ${v.checked} event(s) checked`,
      );
    }).catch(() => {});
    await load(false);
  },
};
