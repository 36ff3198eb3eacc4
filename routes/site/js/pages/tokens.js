// API tokens (admin): scripts call the API with `Authorization: Bearer …`.
// A new token is shown once; only its hash is stored.

import { api } from "../api.js";
import { dialog, form, h, table, time, toast } from "../ui.js";

export default {
  path: "tokens",
  title: "API tokens",
  role: "admin",
  async mount(view) {
    const box = h("div", { id: "tokens" });
    const load = async () => {
      const { tokens } = await api("GET", "/api/tokens");
      box.replaceChildren(
        tokens.length
          ? table(
            ["Name", "Role", "Prefix", "Created", "Last used", ""],
            tokens.map((t) => [
              t.name,
              t.role,
              h("code", {}, t.prefix),
              t.created ? time(t.created) : "",
              t.lastUsed ? time(t.lastUsed) : "never",
              h("button", {
                class: "link danger",
                onclick: async () => {
                  if (!confirm(`Revoke ${t.name}?`)) return;
                  await api("DELETE", `/api/tokens/${encodeURIComponent(t.prefix)}`).catch((e) =>
                    toast(e.message, "bad")
                  );
                  load();
                },
              }, "Revoke"),
            ]),
            { id: "token-table" },
          )
          : h("p", { class: "muted" }, "No API tokens."),
      );
    };
    const add = () => {
      const d = dialog(
        "New API token",
        form([
          { name: "name", label: "Name", required: true, hint: "What uses it, e.g. backup-script" },
          {
            name: "role",
            label: "Role",
            type: "select",
            options: ["user", "admin"],
            value: "user",
          },
        ], async (v) => {
          const r = await api("POST", "/api/tokens", v);
          d.close();
          dialog(
            "Token created",
            h("p", {}, "Copy it now: it is not shown again."),
            h("pre", { class: "json", id: "new-token" }, r.token),
          );
          load();
        }, { button: "Create" }),
      );
    };
    view.append(
      h(
        "div",
        { class: "toolbar" },
        h("button", { class: "primary", id: "new-token-btn", onclick: add }, "New token"),
      ),
      box,
    );
    await load();
  },
};
