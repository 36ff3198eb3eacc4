// Placeholder dashboard: first-run setup, login, status and device data.
// Talks to /api only; keeps the XSRF token in memory and sends it on writes.
"use strict";

let xsrf = null;
const $ = (sel) => document.querySelector(sel);

function show(id) {
  for (const s of ["setup", "login", "dash"]) $("#" + s).hidden = s !== id;
}

function error(msg) {
  $("#error").textContent = msg || "";
}

async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (xsrf && method !== "GET") headers["x-xsrf-token"] = xsrf;
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) {
    const e = new Error(data?.error?.message || res.statusText);
    e.status = res.status;
    throw e;
  }
  return data;
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = String(text);
  if (cls) td.className = cls;
  return td;
}

async function dashboard() {
  show("dash");
  $("#logout").hidden = false;
  const status = await api("GET", "/api/status");
  $("#version").textContent = `Tern ${status.version}, up ${status.uptime} s`;
  const tbody = $("#services tbody");
  tbody.replaceChildren();
  for (const s of status.services) {
    const tr = document.createElement("tr");
    tr.append(cell(s.name), cell(s.state, "state-" + s.state), cell(s.restarts));
    tbody.append(tr);
  }
  const { models } = await api("GET", "/api/data");
  const box = $("#data");
  box.replaceChildren();
  if (models.length === 0) box.textContent = "No models are exposed to the API.";
  for (const m of models) {
    const h = document.createElement("h3");
    h.textContent = m.name;
    const table = document.createElement("table");
    table.className = "items";
    table.dataset.model = m.name;
    const fields = Object.keys(m.fields);
    const head = document.createElement("tr");
    for (const f of fields) {
      const th = document.createElement("th");
      th.textContent = f;
      head.append(th);
    }
    table.append(head);
    const { items } = await api("GET", `/api/data/${encodeURIComponent(m.name)}?limit=50`);
    for (const it of items) {
      const tr = document.createElement("tr");
      for (const f of fields) tr.append(cell(it[f] ?? ""));
      table.append(tr);
    }
    box.append(h, table);
  }
}

async function start() {
  error("");
  try {
    const me = await api("GET", "/api/auth/me");
    xsrf = me.xsrf || null;
    $("#who").textContent = `${me.user.username} (${me.user.role})`;
    await dashboard();
  } catch (e) {
    if (e.status !== 401) return error(e.message);
    $("#logout").hidden = true;
    $("#who").textContent = "";
    const setup = await api("GET", "/api/auth/setup").catch(() => ({ needed: false }));
    show(setup.needed ? "setup" : "login");
  }
}

function formData(form) {
  return Object.fromEntries(new FormData(form).entries());
}

document.addEventListener("DOMContentLoaded", () => {
  $("#login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await api("POST", "/api/auth/login", formData(ev.target));
      xsrf = r.xsrf;
      await start();
    } catch (e) {
      error(e.message);
    }
  });
  $("#setup-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await api("POST", "/api/auth/setup", formData(ev.target));
      xsrf = r.xsrf;
      await start();
    } catch (e) {
      error(e.message);
    }
  });
  $("#logout").addEventListener("click", async () => {
    await api("POST", "/api/auth/logout").catch(() => {});
    xsrf = null;
    await start();
  });
  start();
});
