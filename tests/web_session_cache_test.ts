/**
 * The in-memory session cache never outlives what the database says: a
 * logout, a password, role or disabled change, a user removal and a token
 * revocation take effect on the very next request, whether made through the
 * API, directly on the database in this process, or by another process (a
 * second SQLite connection, as `tern user passwd` opens). And a request with
 * a cached session reads nothing from SQLite.
 */

import assert from "node:assert/strict";
import { FakeClock } from "../lib/clock.ts";
import { configSchema } from "../lib/config/mod.ts";
import { Database } from "../lib/db/mod.ts";
import { nullLogger } from "../lib/log/mod.ts";
import { AuthStore, type WebApp } from "../lib/web/mod.ts";
import type { WebDeps } from "../routes/deps.ts";
import { buildApp } from "../routes/web_service.ts";

interface Env {
  app: WebApp;
  deps: WebDeps;
  db: Database;
  clock: FakeClock;
  dir: string;
  [Symbol.asyncDispose](): Promise<void>;
}

async function env(web: Record<string, unknown> = {}): Promise<Env> {
  const dir = await Deno.makeTempDir();
  const clock = new FakeClock();
  const config = configSchema.parse({
    web: { auth: { iterations: 10_000 }, static: { enabled: false }, ...web },
  });
  const db = Database.open({ path: `${dir}/tern.db`, clock, purgeInterval: 0 });
  const { app, deps } = buildApp(config, { log: nullLogger, clock, db });
  return {
    app,
    deps,
    db,
    clock,
    dir,
    async [Symbol.asyncDispose]() {
      deps.auth?.close();
      db.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

async function call(
  e: Env,
  method: string,
  path: string,
  o: { cookie?: string; xsrf?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.cookie) headers.cookie = o.cookie;
  if (o.xsrf) headers["x-xsrf-token"] = o.xsrf;
  if (o.body !== undefined) headers["content-type"] = "application/json";
  return await e.app.request(
    new Request(`http://dev.local${path}`, {
      method,
      headers,
      ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    }),
    { remoteAddr: "192.0.2.9", secure: false },
  );
}

async function status(e: Env, path: string, o: Parameters<typeof call>[3] = {}): Promise<number> {
  const r = await call(e, "GET", path, o);
  await r.body?.cancel();
  return r.status;
}

async function loginAs(e: Env, username: string, password: string) {
  const r = await call(e, "POST", "/api/auth/login", { body: { username, password } });
  assert.equal(r.status, 200);
  return { cookie: r.headers.get("set-cookie")!.split(";")[0]!, xsrf: (await r.json()).xsrf };
}

/** An admin and a user "bob", both logged in (their sessions cached). */
async function people(e: Env) {
  const r = await call(e, "POST", "/api/auth/setup", {
    body: { token: e.deps.setup.token, username: "admin", password: "correct horse" },
  });
  assert.equal(r.status, 201);
  const admin = {
    cookie: r.headers.get("set-cookie")!.split(";")[0]!,
    xsrf: (await r.json()).xsrf,
  };
  const c = await call(e, "POST", "/api/users", {
    ...admin,
    body: { username: "bob", password: "bob-password", role: "admin" },
  });
  assert.equal(c.status, 201);
  await c.body?.cancel();
  const bob = await loginAs(e, "bob", "bob-password");
  assert.equal(await status(e, "/api/users", bob), 200, "bob is an admin");
  return { admin, bob };
}

/** Count database calls (reads and writes) made while `fn` runs. */
async function dbCalls(db: Database, fn: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const d = db as unknown as Record<string, (...a: unknown[]) => unknown>;
  const names = ["get", "find", "update", "create", "put", "remove", "count"];
  const saved = names.map((m) => [m, d[m]!] as const);
  for (const [m, f] of saved) {
    d[m] = (...a: unknown[]) => {
      n++;
      return f.apply(db, a);
    };
  }
  try {
    await fn();
  } finally {
    for (const [m] of saved) delete d[m];
  }
  return n;
}

Deno.test("a cached session costs no database call; an uncached one reads it", async () => {
  await using e = await env();
  const { admin } = await people(e);
  // A device action that touches no database itself.
  e.app.get("/api/probe", () => new Response("ok"), { role: "user" });
  e.deps.auth!.flush();
  const first = await dbCalls(e.db, () => status(e, "/api/probe", admin));
  assert.ok(first >= 1, "the first request reads the session");
  const cached = await dbCalls(e.db, async () => {
    for (let i = 0; i < 5; i++) assert.equal(await status(e, "/api/probe", admin), 200);
  });
  assert.equal(cached, 0, "cached session: no database call at all");
});

Deno.test("password, role and disabled changes and removal through the API end sessions at once", async () => {
  await using e = await env();
  const { admin } = await people(e);
  for (
    const [what, act] of [
      ["password", (b: unknown) => call(e, "PATCH", "/api/users/bob", { ...admin, body: b })],
      ["role", (b: unknown) => call(e, "PATCH", "/api/users/bob", { ...admin, body: b })],
      ["disabled", (b: unknown) => call(e, "PATCH", "/api/users/bob", { ...admin, body: b })],
    ] as const
  ) {
    // Enable bob as admin again, then log in so the session is in the cache.
    const reset = await call(e, "PATCH", "/api/users/bob", {
      ...admin,
      body: { role: "admin", disabled: false, password: "bob-password" },
    });
    assert.equal(reset.status, 200);
    await reset.body?.cancel();
    const bob = await loginAs(e, "bob", "bob-password");
    assert.equal(await status(e, "/api/users", bob), 200);
    const body = what === "password"
      ? { password: "another-password" }
      : what === "role"
      ? { role: "user" }
      : { disabled: true };
    const r = await act(body);
    assert.equal(r.status, 200, what);
    await r.body?.cancel();
    assert.equal(await status(e, "/api/users", bob), 401, `after ${what} change`);
    assert.equal(await status(e, "/api/auth/me", bob), 401, `after ${what} change`);
  }
  const bob = await (async () => {
    const reset = await call(e, "PATCH", "/api/users/bob", {
      ...admin,
      body: { role: "admin", disabled: false, password: "bob-password" },
    });
    await reset.body?.cancel();
    return await loginAs(e, "bob", "bob-password");
  })();
  assert.equal(await status(e, "/api/auth/me", bob), 200);
  const del = await call(e, "DELETE", "/api/users/bob", admin);
  assert.equal(del.status, 204);
  assert.equal(await status(e, "/api/auth/me", bob), 401, "after removal");
});

Deno.test("changes made on the database in this process (no API) evict at once", async () => {
  await using e = await env();
  const { bob } = await people(e);
  const { token } = await e.deps.auth!.createToken("ci", "user");
  const bearer = { headers: { authorization: `Bearer ${token}` } };
  assert.equal(await status(e, "/api/auth/me", bearer), 200);
  const other = new AuthStore(e.db);
  // No clock advance: the cache must not need the lastSeen write or the 5 s token re-read.
  assert.equal(other.revokeToken(token.slice(0, 12)), 1);
  assert.equal(await status(e, "/api/auth/me", bearer), 401, "token revoked");
  other.updateUser("bob", { role: "user" });
  // The session row still exists, but the cached role is gone: re-read from the database.
  const r = await call(e, "GET", "/api/users", bob);
  await r.body?.cancel();
  assert.notEqual(r.status, 200, "no stale admin role after a role change");
  assert.equal(other.removeSessionsOf("bob"), 1);
  assert.equal(await status(e, "/api/auth/me", bob), 401, "sessions removed");
});

Deno.test("another process's changes (second SQLite connection) take effect within a second", async () => {
  await using e = await env({ sessions: { idleTimeout: 600_000, absoluteTimeout: 3_600_000 } });
  const { admin } = await people(e);
  const { token } = await e.deps.auth!.createToken("ci", "user");
  const bearer = { headers: { authorization: `Bearer ${token}` } };
  assert.equal(await status(e, "/api/auth/me", admin), 200);
  assert.equal(await status(e, "/api/auth/me", bearer), 200);
  // What `tern user passwd` / `tern token revoke` do: their own connection to the same file.
  const db2 = Database.open({ path: `${e.dir}/tern.db`, clock: e.clock, purgeInterval: 0 });
  try {
    const other = new AuthStore(db2);
    assert.equal(other.removeSessionsOf("admin"), 1);
    assert.equal(other.revokeToken(token.slice(0, 12)), 1);
  } finally {
    db2.close();
  }
  await e.clock.advance(1_000);
  assert.equal(await status(e, "/api/auth/me", admin), 401, "session ended elsewhere");
  assert.equal(await status(e, "/api/auth/me", bearer), 401, "token revoked elsewhere");
});

Deno.test("the session cache is bounded: the least recently used session is evicted, not lost", async () => {
  await using e = await env({ sessions: { idleTimeout: 600_000, absoluteTimeout: 3_600_000 } });
  const { admin } = await people(e);
  // Many logins of bob overflow nothing visible: each still authenticates from the database.
  const sessions = [];
  for (let i = 0; i < 3; i++) sessions.push(await loginAs(e, "bob", "bob-password"));
  for (const s of sessions) assert.equal(await status(e, "/api/auth/me", s), 200);
  assert.equal(await status(e, "/api/auth/me", admin), 200);
});

Deno.test("alternating and repeated cookies each get their own user; a plain cookie is no TLS cookie", async () => {
  await using e = await env();
  const { admin, bob } = await people(e);
  const me = async (who: { cookie: string }, secure = false) => {
    const r = await e.app.request(
      new Request("http://dev.local/api/auth/me", { headers: { cookie: who.cookie } }),
      { remoteAddr: "192.0.2.9", secure },
    );
    return r.status === 200 ? (await r.json()).user.username : r.status;
  };
  for (const who of [admin, admin, bob, bob, admin, bob]) {
    assert.equal(await me(who), who === admin ? "admin" : "bob");
  }
  // The header just seen over plain HTTP names the plain cookie, which a TLS request ignores.
  assert.equal(await me(bob), "bob");
  assert.equal(await me(bob, true), 401);
  assert.equal(await me(bob), "bob");
  // Logging out ends the session even while its header is the one remembered last.
  const out = await call(e, "POST", "/api/auth/logout", bob);
  await out.body?.cancel();
  assert.equal(await me(bob), 401);
  assert.equal(await me(admin), "admin");
});
