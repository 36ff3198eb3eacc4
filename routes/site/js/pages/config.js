// Configuration (admin), read-only: the effective config with every secret
// redacted by the agent (/api/config).

import { api } from "../api.js";
import { h } from "../ui.js";

export default {
  path: "config",
  title: "Configuration",
  role: "admin",
  async mount(view) {
    const { config } = await api("GET", "/api/config");
    const sections = Object.entries(config).map(([k, v]) =>
      h(
        "details",
        { class: "card", open: k === "agent" || k === "web" },
        h(
          "summary",
          {},
          k,
          typeof v === "object" && v && "enabled" in v ? ` · ${v.enabled ? "on" : "off"}` : "",
        ),
        h("pre", { class: "json" }, JSON.stringify(v, null, 2)),
      )
    );
    view.append(
      h(
        "p",
        { class: "muted" },
        "Read-only. Change tern.json5 (or local.json5) and reload the agent; secrets are shown as [redacted].",
      ),
      h("div", { id: "config" }, sections),
    );
  },
};
