// Small DOM helpers: h() builds elements (text is always text, never HTML),
// formatters, a table, a form with per-field errors, and a toast.

/** `h("a", { href: "#/", class: "x", onclick }, "text", child)`. */
export function h(tag, attrs = {}, ...children) {
  const el = tag === "svg" || attrs.svg
    ? document.createElementNS("http://www.w3.org/2000/svg", tag)
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false || k === "svg") continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = String(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  add(el, children);
  return el;
}

function add(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) add(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** An SVG element. */
export function s(tag, attrs = {}, ...children) {
  return h(tag, { ...attrs, svg: true }, ...children);
}

export function bytes(n) {
  if (n === null || n === undefined) return "–";
  const u = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i && n < 10 ? 1 : 0)} ${u[i]}`;
}

export function duration(sec) {
  if (sec === null || sec === undefined || sec < 0) return "–";
  sec = Math.round(sec);
  const d = Math.floor(sec / 86400), hh = Math.floor(sec / 3600) % 24;
  const m = Math.floor(sec / 60) % 60, ss = sec % 60;
  if (d) return `${d} d ${hh} h`;
  if (hh) return `${hh} h ${m} min`;
  if (m) return `${m} min ${ss} s`;
  return `${ss} s`;
}

/** "3 min ago" for an ms or ISO time; "–" when absent. */
export function ago(t) {
  if (t === null || t === undefined || t === 0) return "–";
  const ms = typeof t === "number" ? t : Date.parse(t);
  if (!Number.isFinite(ms)) return "–";
  const d = (Date.now() - ms) / 1000;
  return d >= 0 ? `${duration(d)} ago` : `in ${duration(-d)}`;
}

export function time(t) {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString();
}

/** A value as short text for a table cell. */
export function text(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** A table from rows of cells; `head` is a list of column titles. */
export function table(head, rows, attrs = {}) {
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      attrs,
      h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))),
    ),
  );
}

/** A definition list from [term, value] pairs. */
export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

/** A badge with a state class: ok, warn, bad, off. */
export function badge(label, kind) {
  return h("span", { class: `badge ${kind}` }, label);
}

export function card(title, ...children) {
  return h("section", { class: "card" }, title ? h("h2", {}, title) : null, ...children);
}

/**
 * A form: `fields` is [{ name, label, type, value, required, options, hint }].
 * `submit(values)` may throw an ApiError whose `fields` are shown beside each field.
 */
export function form(fields, submit, { button = "Save", extra = [] } = {}) {
  const errors = {};
  const summary = h("p", { class: "error", role: "alert" });
  const controls = fields.map((f) => {
    const id = `f-${f.name}-${Math.random().toString(36).slice(2, 7)}`;
    let input;
    if (f.type === "select") {
      input = h(
        "select",
        { id, name: f.name },
        f.options.map((o) => h("option", { value: o, selected: o === f.value }, o)),
      );
    } else if (f.type === "boolean") {
      input = h("input", { id, name: f.name, type: "checkbox", checked: f.value === true });
    } else if (f.type === "json") {
      input = h(
        "textarea",
        { id, name: f.name, rows: 3 },
        f.value === undefined ? "" : JSON.stringify(f.value),
      );
    } else {
      input = h("input", {
        id,
        name: f.name,
        type: f.type || "text",
        value: f.value ?? "",
        required: f.required,
        autocomplete: f.autocomplete || "off",
        step: f.type === "number" ? "any" : undefined,
        readonly: f.readonly,
      });
    }
    const err = h("span", { class: "field-error", id: `${id}-err` });
    input.setAttribute("aria-describedby", `${id}-err`);
    errors[f.name] = { err, input };
    return h(
      "div",
      { class: "field" },
      h("label", { for: id }, f.label || f.name, f.required ? " *" : ""),
      input,
      f.hint ? h("small", { class: "muted" }, f.hint) : null,
      err,
    );
  });
  const el = h(
    "form",
    { class: "form", novalidate: true },
    controls,
    summary,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "primary" }, button),
      extra,
    ),
  );
  el.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    summary.textContent = "";
    for (const { err, input } of Object.values(errors)) {
      err.textContent = "";
      input.removeAttribute("aria-invalid");
    }
    const values = {};
    let bad = false;
    for (const f of fields) {
      const input = errors[f.name].input;
      if (f.readonly) continue;
      let v;
      if (f.type === "boolean") v = input.checked;
      else if (input.value === "") v = undefined;
      else if (f.type === "number") v = Number(input.value);
      else if (f.type === "json") {
        try {
          v = JSON.parse(input.value);
        } catch {
          show(f.name, "Not valid JSON");
          bad = true;
          continue;
        }
      } else v = input.value;
      if (v !== undefined || f.keepEmpty) values[f.name] = v ?? null;
    }
    if (bad) return;
    try {
      await submit(values);
    } catch (e) {
      const rest = [];
      for (const p of e.fields || []) {
        if (errors[p.path]) show(p.path, p.message);
        else rest.push(p.path ? `${p.path}: ${p.message}` : p.message);
      }
      summary.textContent = [e.message, ...rest].join(" — ");
    }
  });
  function show(name, message) {
    errors[name].err.textContent = message;
    errors[name].input.setAttribute("aria-invalid", "true");
  }
  return el;
}

let toastTimer;
/** A short message at the bottom of the screen (announced to screen readers). */
export function toast(message, kind = "ok") {
  const t = document.getElementById("toast");
  t.textContent = message;
  t.className = `show ${kind}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.className = ""), 4000);
}

/** A modal dialog (native <dialog>: focus trap and Escape built in); returns it, open. */
export function dialog(title, ...children) {
  const d = h(
    "dialog",
    { "aria-label": title },
    h(
      "div",
      { class: "dialog-head" },
      h("h2", {}, title),
      h("button", { class: "icon", "aria-label": "Close", onclick: () => d.close() }, "✕"),
    ),
    ...children,
  );
  d.addEventListener("close", () => d.remove());
  document.body.append(d);
  d.showModal();
  return d;
}

/** Save `text` as a file download. */
export function download(name, text, type = "application/json") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
