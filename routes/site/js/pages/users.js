// Users (admin): list, add, change role, disable, reset password, remove.

import { api } from "../api.js";
import { badge, dialog, form, h, table, time, toast } from "../ui.js";

const ROLES = ["admin", "user"];

export default {
  path: "users",
  title: "Users",
  role: "admin",
  async mount(view, { me }) {
    const box = h("div", { id: "users" });
    const load = async () => {
      const { users } = await api("GET", "/api/users");
      box.replaceChildren(table(
        ["User", "Name", "Role", "State", "Last login", ""],
        users.map((u) => [
          u.username,
          u.name || "",
          u.role,
          u.disabled ? badge("disabled", "bad") : badge("active", "ok"),
          u.lastLogin ? time(u.lastLogin) : "never",
          u.username === me.user.username
            ? h("span", { class: "muted" }, "you")
            : h("button", { class: "link", onclick: () => edit(u) }, "Edit"),
        ]),
        { id: "user-table" },
      ));
    };
    const edit = (u) => {
      const del = h("button", { type: "button", class: "danger" }, "Remove");
      const d = dialog(
        `User ${u.username}`,
        form([
          { name: "name", label: "Name", value: u.name || "" },
          { name: "role", label: "Role", type: "select", options: ROLES, value: u.role },
          { name: "disabled", label: "Disabled", type: "boolean", value: !!u.disabled },
          {
            name: "password",
            label: "New password",
            type: "password",
            autocomplete: "new-password",
            hint: "Leave empty to keep it",
          },
        ], async (v) => {
          await api("PATCH", `/api/users/${encodeURIComponent(u.username)}`, v);
          d.close();
          toast(`${u.username} saved`);
          load();
        }, { extra: [del] }),
      );
      del.addEventListener("click", async () => {
        if (!confirm(`Remove ${u.username}?`)) return;
        await api("DELETE", `/api/users/${encodeURIComponent(u.username)}`).catch((e) =>
          toast(e.message, "bad")
        );
        d.close();
        load();
      });
    };
    const add = () => {
      const d = dialog(
        "New user",
        form([
          { name: "username", label: "User name", required: true },
          { name: "name", label: "Name" },
          { name: "role", label: "Role", type: "select", options: ROLES, value: "user" },
          {
            name: "password",
            label: "Password",
            type: "password",
            required: true,
            autocomplete: "new-password",
            hint: "At least 8 characters",
          },
        ], async (v) => {
          await api("POST", "/api/users", v);
          d.close();
          toast(`${v.username} created`);
          load();
        }, { button: "Create" }),
      );
    };
    view.append(
      h(
        "div",
        { class: "toolbar" },
        h("button", { class: "primary", id: "new-user", onclick: add }, "New user"),
      ),
      box,
    );
    await load();
  },
};
