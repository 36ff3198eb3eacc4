// Overview: who the device is, how long it runs, every service's state, the
// cloud connection (MQTT), sync backlog per model, spool streams, and the
// certificate and update state when those services report them. Live: the
// `status` event of /api/events replaces the view every 2 s.

import { live } from "../api.js";
import { ago, badge, bytes, card, duration, facts, h, table, text } from "../ui.js";

const KIND = {
  running: "ok",
  starting: "warn",
  stopping: "warn",
  backoff: "bad",
  failed: "bad",
  stopped: "off",
};

function services(list) {
  return card(
    "Services",
    table(
      ["Service", "State", "Since", "Restarts", "Last error"],
      list.map((s) => [
        s.name,
        badge(s.state, KIND[s.state] || "off"),
        ago(s.since),
        String(s.restarts ?? 0),
        s.lastError ? h("span", { class: "error" }, s.lastError) : "",
      ]),
      { id: "services" },
    ),
  );
}

function mqtt(d) {
  if (!d) {
    return card("Cloud connection", h("p", { class: "muted" }, "MQTT is off (mqtt.enabled)."));
  }
  return card(
    "Cloud connection",
    facts([
      ["MQTT", badge(d.connected ? "connected" : "disconnected", d.connected ? "ok" : "bad")],
      ["Broker", d.url || "–"],
      ["Client id", d.clientId || "–"],
      [d.connected ? "Connected" : "Disconnected", ago(d.since)],
      ["Reconnects", String(d.reconnects ?? 0)],
      [
        "Queue",
        `${d.queueDepth ?? 0} messages (${bytes(d.queueBytes ?? 0)}), ${d.inflight ?? 0} in flight`,
      ],
      [
        "Dropped",
        `${d.dropped ?? 0} full queue, ${d.droppedOffline ?? 0} offline, ${d.poison ?? 0} poison`,
      ],
      ["Sent / acked / received", `${d.sent ?? 0} / ${d.acked ?? 0} / ${d.received ?? 0}`],
      ...(d.lastError
        ? [["Last error", h("span", { class: "error" }, `${d.lastError} (${ago(d.lastErrorAt)})`)]]
        : []),
    ]),
  );
}

function sync(d) {
  if (!d) return null;
  if (!d.running) return card("Sync", h("p", { class: "muted" }, "Sync is not running."));
  return card(
    "Sync",
    facts([
      ["Backlog", `${d.backlog} changes`],
      ["Last upload", ago(d.up?.lastSuccess)],
      ["Last download", ago(d.down?.lastSuccess)],
      ["Conflicts", String(d.conflicts ?? 0)],
    ]),
    table(
      ["Model", "Direction", "Table", "Backlog"],
      (d.models || []).map((m) => [m.name, m.direction, m.table, String(m.backlog)]),
      { id: "sync-models" },
    ),
  );
}

function spool(list) {
  if (!list?.length) return null;
  return card(
    "Cloud streams",
    table(
      ["Stream", "Backlog", "Oldest", "Sent", "Dropped", "Refused", "Last error"],
      list.map((s) => [
        s.name,
        `${s.backlog} (${bytes(s.bytes)})`,
        s.oldestAgeMs ? duration(s.oldestAgeMs / 1000) : "–",
        String(s.sent),
        s.dropped ? badge(String(s.dropped), "warn") : "0",
        String(s.refused),
        s.lastError ? h("span", { class: "error" }, `${s.lastError} (${ago(s.lastErrorAt)})`) : "",
      ]),
      { id: "spool" },
    ),
  );
}

/**
 * The device's identity and updates, from the `provision` service (its
 * certificate's `notAfter`, `nextRotation`, state) and the `update` service
 * (running version, the job under way: `job.phase`, `job.percent`).
 */
function device(list) {
  const rows = [];
  for (const s of list) {
    const d = s.details || {};
    if (s.name === "provision") {
      rows.push(["Identity", text(d.state || s.state) + (d.thing ? ` · ${d.thing}` : "")]);
      if (d.notAfter) {
        const days = Math.floor((Date.parse(d.notAfter) - Date.now()) / 86400_000);
        rows.push([
          "Certificate",
          badge(
            `expires ${new Date(d.notAfter).toISOString().slice(0, 10)} (${days} d)`,
            days < 14 ? "bad" : days < 45 ? "warn" : "ok",
          ),
        ]);
      }
      if (d.nextRotation) rows.push(["Next rotation", text(String(d.nextRotation).slice(0, 10))]);
      if (d.lastError) rows.push(["Provisioning error", text(errorText(d.lastError))]);
    }
    if (s.name === "update") {
      const job = d.job;
      rows.push([
        "Update",
        job
          ? text(`${job.phase} → ${job.version}`) +
            (job.phase === "downloading" ? ` (${job.percent} %)` : "") +
            (job.reason ? ` · ${job.reason}` : "")
          : text(`up to date${d.version ? ` (${d.version})` : ""}`),
      ]);
      if (d.waitingFor) rows.push(["Update waits for", text(d.waitingFor)]);
    }
  }
  return rows.length ? card("Identity and updates", facts(rows)) : null;
}

/** AWS's error fields, or a message. */
function errorText(e) {
  if (typeof e !== "object" || !e) return String(e);
  return [e.errorCode, e.errorMessage || e.message].filter(Boolean).join(": ") || JSON.stringify(e);
}

function render(box, st) {
  const byName = Object.fromEntries(st.services.map((s) => [s.name, s]));
  const running = st.services.filter((s) => s.state === "running").length;
  box.replaceChildren(
    ...[
      h(
        "div",
        { class: "tiles" },
        tile("Device", st.deviceId || "–", "identity"),
        tile("Version", `Tern ${st.version}`, "version"),
        tile("Uptime", duration(st.uptime), "uptime"),
        tile("Services", `${running} / ${st.services.length} running`, "running"),
        tile("Memory", bytes(st.memory?.rss), "rss"),
      ),
      services(st.services),
      h(
        "div",
        { class: "grid" },
        mqtt(byName.mqtt?.details),
        sync(byName.sync?.details),
        device(st.services),
      ),
      spool(st.spool),
      h("p", { class: "muted small" }, `Updated ${new Date(st.time).toLocaleTimeString()}`),
    ].filter(Boolean),
  );
}

function tile(label, value, id) {
  return h(
    "div",
    { class: "tile", id: `tile-${id}` },
    h("span", { class: "muted" }, label),
    h("strong", {}, value),
  );
}

export default {
  path: "overview",
  title: "Overview",
  role: "user",
  mount(view) {
    const box = h("div", { id: "overview" }, h("p", { class: "muted" }, "Connecting…"));
    view.append(box);
    return live(["status"], { status: (st) => render(box, st) });
  },
};
