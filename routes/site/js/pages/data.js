// Data: every model the API exposes (/api/data), a page of items at a time
// with the key fields as filters, and for each item view, edit (If-Match its
// _version) and delete; new items; export of every matching item as JSON.
// Validation errors of the API (`fields`) are shown beside each field.

import { api } from "../api.js";
import { dialog, download, form, h, table, text, toast } from "../ui.js";

const PAGE = 25;
const META = ["created", "updated", "_version", "_key"];

/** The `${name}` variables of a key template. */
const vars = (t) => [...(t || "").matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]);

function inputType(f) {
  return f.type === "number"
    ? "number"
    : f.type === "boolean"
    ? "boolean"
    : f.type === "object" || f.type === "array"
    ? "json"
    : "text";
}

export default {
  path: "data",
  title: "Data",
  role: "user",
  async mount(view, { args, allowed }) {
    const { models } = await api("GET", "/api/data");
    if (!models.length) {
      view.append(h("p", { class: "muted" }, "No models are exposed to the API (web.api.models)."));
      return;
    }
    const model = models.find((m) => m.name === args[0]) || models[0];
    const canWrite = allowed(model.write);
    const keys = [...new Set([...vars(model.pk), ...vars(model.sk)])];
    const fields = Object.entries(model.fields);
    const picker = h(
      "select",
      {
        id: "model",
        "aria-label": "Model",
        onchange: (e) => (location.hash = `#/data/${encodeURIComponent(e.target.value)}`),
      },
      models.map((m) => h("option", { value: m.name, selected: m === model }, m.name)),
    );
    const filters = keys.map((k) =>
      h("input", { name: k, type: "search", placeholder: k, "aria-label": `Filter by ${k}` })
    );
    const reverse = h("input", { type: "checkbox", id: "reverse" });
    const status = h("p", { class: "muted", id: "data-status", role: "status" });
    const box = h("div", { id: "items" });
    const prev = h("button", { disabled: true }, "‹ Previous");
    const next = h("button", { disabled: true }, "Next ›");
    let stack = [];
    let cursor = undefined;
    let currentToken = undefined;

    const query = (extra = {}) => {
      const q = new URLSearchParams();
      for (const f of filters) if (f.value) q.set(f.name, f.value);
      if (reverse.checked) q.set("reverse", "1");
      for (const [k, v] of Object.entries(extra)) if (v !== undefined) q.set(k, v);
      return q;
    };
    const load = async (token) => {
      status.textContent = "Loading…";
      try {
        const r = await api(
          "GET",
          `/api/data/${encodeURIComponent(model.name)}?${query({ limit: PAGE, next: token })}`,
        );
        cursor = r.next;
        next.disabled = !r.next;
        prev.disabled = stack.length === 0;
        const cols = fields.map(([n]) => n);
        box.replaceChildren(table(
          [h("span", { class: "sr" }, "Open"), ...cols, "Updated"],
          r.items.map((it) => [
            h(
              "button",
              {
                class: "link",
                onclick: () => open(it),
                "aria-label": `${canWrite ? "Edit" : "View"} ${model.name} ${
                  keys.map((k) => it[k]).join(" ")
                }`,
              },
              canWrite ? "Edit" : "View",
            ),
            ...cols.map((c) => text(it[c])),
            it.updated ? new Date(it.updated).toLocaleString() : "",
          ]),
          { class: "items", "data-model": model.name },
        ));
        status.textContent = r.items.length
          ? `Page ${stack.length + 1}: ${r.items.length} item(s)${r.next ? ", more follow" : ""}`
          : "No items match.";
      } catch (e) {
        box.replaceChildren();
        status.textContent = e.message;
      }
    };
    const reload = () => {
      stack = [];
      currentToken = undefined;
      load(undefined);
    };
    next.addEventListener("click", () => {
      stack.push(currentToken);
      currentToken = cursor;
      load(cursor);
    });
    prev.addEventListener("click", () => {
      currentToken = stack.pop();
      load(currentToken);
    });

    const fieldsOf = (it) =>
      fields.map(([name, f]) => ({
        name,
        label: `${name} (${f.type})`,
        type: inputType(f),
        value: it?.[name],
        required: f.required && !it,
        readonly: !!it && keys.includes(name),
        hint: f.type === "date" ? "ISO 8601, e.g. 2026-01-01T12:00:00Z" : undefined,
        keepEmpty: !!it,
      }));

    const open = (it) => {
      const meta = h(
        "p",
        { class: "muted small" },
        `key ${it._key} · version ${it._version ?? "–"} · created ${it.created ?? "–"} · updated ${
          it.updated ?? "–"
        }`,
      );
      if (!canWrite) {
        dialog(`${model.name}`, meta, h("pre", { class: "json" }, JSON.stringify(it, null, 2)));
        return;
      }
      const del = h("button", { class: "danger", type: "button" }, "Delete");
      const d = dialog(
        `Edit ${model.name}`,
        meta,
        form(fieldsOf(it), async (v) => {
          const patch = {};
          for (const [k, x] of Object.entries(v)) {
            if (keys.includes(k) || META.includes(k)) continue;
            if (JSON.stringify(x ?? null) !== JSON.stringify(it[k] ?? null)) patch[k] = x;
          }
          await api("PATCH", `/api/data/${encodeURIComponent(model.name)}/${it._key}`, patch, {
            "if-match": String(it._version),
          });
          d.close();
          toast(`${model.name} saved`);
          load(currentToken);
        }, { extra: [del] }),
      );
      del.addEventListener("click", async () => {
        if (!confirm(`Delete this ${model.name}?`)) return;
        try {
          await api("DELETE", `/api/data/${encodeURIComponent(model.name)}/${it._key}`, undefined, {
            "if-match": String(it._version),
          });
          d.close();
          toast(`${model.name} deleted`);
          load(currentToken);
        } catch (e) {
          toast(e.message, "bad");
        }
      });
    };
    const create = () => {
      const d = dialog(
        `New ${model.name}`,
        form(fieldsOf(undefined), async (v) => {
          await api("POST", `/api/data/${encodeURIComponent(model.name)}`, v);
          d.close();
          toast(`${model.name} created`);
          reload();
        }, { button: "Create" }),
      );
    };
    const exportAll = async () => {
      const all = [];
      let token;
      do {
        const r = await api(
          "GET",
          `/api/data/${encodeURIComponent(model.name)}?${query({ limit: 1000, next: token })}`,
        );
        all.push(...r.items);
        token = r.next;
      } while (token && all.length < 100_000);
      download(`${model.name}.json`, JSON.stringify(all, null, 2));
      toast(`Exported ${all.length} ${model.name} item(s)`);
    };

    const filterForm = h(
      "form",
      { class: "toolbar", onsubmit: (e) => (e.preventDefault(), reload()) },
      h("label", {}, "Model ", picker),
      filters.map((f) => h("label", {}, f.name + " ", f)),
      h("label", {}, reverse, " newest first"),
      h("button", { type: "submit" }, "Filter"),
      canWrite
        ? h("button", { type: "button", class: "primary", id: "new-item", onclick: create }, "New")
        : null,
      h("button", { type: "button", id: "export", onclick: exportAll }, "Export"),
    );
    view.append(filterForm, box, h("div", { class: "pager" }, prev, status, next));
    reload();
  },
};
