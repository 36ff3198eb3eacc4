// The dashboard's shell: who is logged in, first-run setup and login, the
// navigation (only the pages the role may use), and a hash router that mounts
// one page at a time. A page is a module in ./pages/ listed in ./pages/index.js.

import { api, liveState, onUnauthorized, setXsrf } from "./api.js";
import { form, h } from "./ui.js";
import { PAGES } from "./pages/index.js";

const $ = (id) => document.getElementById(id);
const RANK = { public: 0, user: 1, admin: 2 };
let me = null;
let unmount = null;
/** Names of the agent's services: a page with `service` is offered only while it runs. */
let running = new Set();

/** Whether the logged-in user has `role` (admin ⊃ user ⊃ public; other roles count as user). */
export function allowed(role) {
  if (!me) return false;
  const have = RANK[me.user.role] ?? 1;
  return have >= (RANK[role] ?? 1);
}

function themeInit() {
  const saved = localStorage.getItem("tern-theme");
  if (saved) document.documentElement.dataset.theme = saved;
  $("theme").addEventListener("click", () => {
    const dark = document.documentElement.dataset.theme
      ? document.documentElement.dataset.theme === "dark"
      : matchMedia("(prefers-color-scheme: dark)").matches;
    const next = dark ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    localStorage.setItem("tern-theme", next);
  });
}

function nav() {
  const links = PAGES.filter((p) =>
    !p.hidden && allowed(p.role) && (!p.service || running.has(p.service))
  ).map((p) => h("a", { href: `#/${p.path}`, "data-page": p.path }, p.title));
  $("nav").replaceChildren(...links);
  $("nav").hidden = false;
  $("menu").hidden = false;
}

function highlight(path) {
  for (const a of $("nav").querySelectorAll("a")) {
    if (a.dataset.page === path) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

/** Mount the page of the current hash (#/logs, #/data/Reading…). */
async function route() {
  if (!me) return;
  const [path, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const page = PAGES.find((p) => p.path === (path || "overview"));
  unmount?.();
  unmount = null;
  document.body.classList.remove("nav-open");
  $("menu").setAttribute("aria-expanded", "false");
  const view = $("view");
  if (!page || !allowed(page.role)) {
    highlight("");
    view.replaceChildren(
      h("h1", {}, page ? "Not allowed" : "Not found"),
      h(
        "p",
        { class: "muted", id: "denied" },
        page ? `This page needs the "${page.role}" role.` : "There is no such page.",
      ),
    );
    return;
  }
  highlight(page.path);
  document.title = `${page.title} · Tern`;
  view.replaceChildren(h("h1", {}, page.title));
  try {
    unmount = (await page.mount(view, { args: rest.map(decodeURIComponent), me, allowed })) || null;
  } catch (e) {
    view.append(h("p", { class: "error", role: "alert" }, e.message));
  }
}

function authPage(title, intro, fields, submit) {
  $("nav").hidden = true;
  $("menu").hidden = true;
  $("who").textContent = "";
  $("logout").hidden = true;
  const f = form(fields, submit, { button: title });
  f.id = title === "Log in" ? "login-form" : "setup-form";
  $("view").replaceChildren(
    h("section", { class: "card auth" }, h("h1", {}, title), intro ? h("p", {}, intro) : null, f),
  );
  f.querySelector("input")?.focus();
}

async function start() {
  unmount?.();
  unmount = null;
  try {
    me = await api("GET", "/api/auth/me");
    setXsrf(me.xsrf);
  } catch (e) {
    me = null;
    if (e.status !== 401) {
      $("view").replaceChildren(h("p", { class: "error", role: "alert" }, e.message));
      return;
    }
    const setup = await api("GET", "/api/auth/setup").catch(() => ({ needed: false }));
    if (setup.needed) {
      authPage(
        "Create admin",
        "First run: no user exists yet. Paste the setup token from the agent's log and choose the admin account.",
        [
          { name: "token", label: "Setup token", required: true },
          {
            name: "username",
            label: "User name",
            value: "admin",
            required: true,
            autocomplete: "username",
          },
          {
            name: "password",
            label: "Password",
            type: "password",
            required: true,
            autocomplete: "new-password",
            hint: "At least 8 characters",
          },
        ],
        async (v) => {
          const r = await api("POST", "/api/auth/setup", v);
          setXsrf(r.xsrf);
          await start();
        },
      );
    } else {
      authPage("Log in", "", [
        { name: "username", label: "User name", required: true, autocomplete: "username" },
        {
          name: "password",
          label: "Password",
          type: "password",
          required: true,
          autocomplete: "current-password",
        },
      ], async (v) => {
        const r = await api("POST", "/api/auth/login", v);
        setXsrf(r.xsrf);
        await start();
      });
    }
    return;
  }
  $("who").textContent = `${me.user.username} (${me.user.role})`;
  $("logout").hidden = false;
  const st = await api("GET", "/api/status").catch(() => null);
  running = new Set((st?.services || []).map((x) => x.name));
  $("device").textContent = st?.deviceId ? ` · ${st.deviceId}` : "";
  nav();
  await route();
}

document.addEventListener("DOMContentLoaded", () => {
  themeInit();
  liveState.set = (on) => {
    $("live").hidden = on === null; // null: the page has no live feed
    $("live").className = on ? "live on" : "live";
    $("live").title = on ? "Live: connected" : "Live: reconnecting";
  };
  onUnauthorized.fn = () => start();
  $("logout").addEventListener("click", async () => {
    await api("POST", "/api/auth/logout").catch(() => {});
    setXsrf(null);
    location.hash = "";
    await start();
  });
  $("menu").addEventListener("click", () => {
    const open = document.body.classList.toggle("nav-open");
    $("menu").setAttribute("aria-expanded", String(open));
  });
  addEventListener(
    "hashchange",
    () => route().then(() => $("view").focus({ preventScroll: true })),
  );
  start();
});
