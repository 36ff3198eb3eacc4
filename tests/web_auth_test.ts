/**
 * Users, sessions, XSRF, throttling, tokens and the device API on a real
 * database file, through `app.request()` (no socket). Time is a FakeClock.
 */

import assert from "node:assert/strict";
import { FakeClock } from "../lib/clock.ts";
import { configSchema } from "../lib/config/mod.ts";
import { Database } from "../lib/db/mod.ts";
import { LogHub, type LogRecord } from "../lib/log/mod.ts";
import type { WebApp } from "../lib/web/mod.ts";
import type { WebDeps } from "../routes/deps.ts";
import { buildApp } from "../routes/web_service.ts";
import { READING } from "./helpers/reading.ts";

const ADDR = { remoteAddr: "192.0.2.7", secure: false };

interface Env {
  app: WebApp;
  deps: WebDeps;
  db: Database;
  clock: FakeClock;
  logs: LogRecord[];
  dir: string;
  [Symbol.asyncDispose](): Promise<void>;
}

async function env(web: Record<string, unknown> = {}, dir?: string): Promise<Env> {
  dir ??= await Deno.makeTempDir();
  const clock = new FakeClock();
  const logs: LogRecord[] = [];
  const hub = new LogHub({ sinks: [{ write: (r) => logs.push(r) }], level: "debug" });
  const config = configSchema.parse({
    web: {
      auth: { iterations: 10_000 },
      static: { enabled: false },
      api: { models: { Reading: { read: "user", write: "admin" } } },
      ...web,
    },
    schema: {
      models: {
        Reading: {
          ...READING,
          fields: {
            ...READING.fields,
            value: { type: "number", min: -50, max: 150, required: true },
            secret: { type: "string", hidden: true },
          },
        },
        Private: { pk: "P#${id}", fields: { id: { type: "string", required: true } } },
      },
    },
  });
  const db = Database.open({
    path: `${dir}/tern.db`,
    schema: config.schema.models,
    clock,
    purgeInterval: 0,
  });
  const { app, deps } = buildApp(config, { log: hub.logger("web"), clock, db });
  return {
    app,
    deps,
    db,
    clock,
    logs,
    dir,
    async [Symbol.asyncDispose]() {
      db.close();
      await Deno.remove(dir!, { recursive: true }).catch(() => {});
    },
  };
}

function call(
  e: Env,
  method: string,
  path: string,
  opts: { body?: unknown; cookie?: string; xsrf?: string; headers?: Record<string, string> } = {},
  info = ADDR,
): Promise<Response> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.body !== undefined) headers["content-type"] ??= "application/json";
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.xsrf) headers["x-xsrf-token"] = opts.xsrf;
  const body = opts.body === undefined
    ? undefined
    : typeof opts.body === "string"
    ? opts.body
    : JSON.stringify(opts.body);
  return Promise.resolve(
    e.app.request(
      new Request(`http://dev.local${path}`, { method, headers, ...(body ? { body } : {}) }),
      info,
    ),
  );
}

function cookieOf(res: Response): string {
  const sc = res.headers.get("set-cookie")!;
  return sc.split(";")[0]!;
}

/** Create the first admin through setup and return their cookie and XSRF token. */
async function setupAdmin(e: Env): Promise<{ cookie: string; xsrf: string }> {
  const r = await call(e, "POST", "/api/auth/setup", {
    body: { token: e.deps.setup.token, username: "admin", password: "correct horse" },
  });
  assert.equal(r.status, 201);
  const body = await r.json();
  return { cookie: cookieOf(r), xsrf: body.xsrf };
}

async function login(e: Env, username: string, password: string, info = ADDR) {
  const r = await call(e, "POST", "/api/auth/login", { body: { username, password } }, info);
  return r;
}

Deno.test("first run: setup creates the admin with the one-time token, then closes", async () => {
  await using e = await env();
  const needed = await call(e, "GET", "/api/auth/setup");
  assert.deepEqual(await needed.json(), { needed: true });
  const wrong = await call(e, "POST", "/api/auth/setup", {
    body: { token: "guess", username: "admin", password: "correct horse" },
  });
  assert.equal(wrong.status, 403);
  await wrong.body?.cancel();
  const token = e.deps.setup.token!;
  const { cookie } = await setupAdmin(e);
  assert.match(cookie, /^tern_session=[A-Za-z0-9_-]{43}$/);
  const again = await call(e, "POST", "/api/auth/setup", {
    body: { token, username: "evil", password: "correct horse" },
  });
  assert.equal(again.status, 403, "the token is single use");
  await again.body?.cancel();
  const u = e.db.get("_User", { username: "admin" })!;
  assert.equal(u.role, "admin");
  assert.match(String(u.passwordHash), /^pbkdf2-sha256\$10000\$/);
});

Deno.test("login sets a strict HttpOnly cookie, rotates the session id and ignores a planted one", async () => {
  await using e = await env();
  await setupAdmin(e);
  const planted = "tern_session=" + "A".repeat(43);
  const r = await call(e, "POST", "/api/auth/login", {
    body: { username: "admin", password: "correct horse" },
    cookie: planted,
  });
  assert.equal(r.status, 200);
  const sc = r.headers.get("set-cookie")!;
  assert.match(sc, /HttpOnly/);
  assert.match(sc, /SameSite=Strict/);
  assert.match(sc, /Path=\//);
  assert.doesNotMatch(sc, /Secure/);
  const cookie = cookieOf(r);
  assert.notEqual(cookie, planted, "the server chose a fresh id");
  const me = await call(e, "GET", "/api/auth/me", { cookie: planted });
  assert.equal(me.status, 401, "the planted id is not a session");
  await me.body?.cancel();
  const again = await login(e, "admin", "correct horse");
  const second = cookieOf(again);
  await again.body?.cancel();
  assert.notEqual(second, cookie, "each login issues a new id");
  // Logging in while holding a session ends the old one.
  const third = await call(e, "POST", "/api/auth/login", {
    body: { username: "admin", password: "correct horse" },
    cookie: second,
  });
  await third.body?.cancel();
  assert.equal((await call(e, "GET", "/api/auth/me", { cookie: second })).status, 401);
  const tls = await call(e, "POST", "/api/auth/login", {
    body: { username: "admin", password: "correct horse" },
  }, { remoteAddr: "::1", secure: true });
  assert.match(tls.headers.get("set-cookie")!, /^__Host-tern_session=.*; Secure$/);
  await tls.body?.cancel();
});

Deno.test("login by form works too; the session survives a restart (stored in the database)", async () => {
  const dir = await Deno.makeTempDir();
  let cookie: string;
  {
    const e = await env({}, dir);
    await setupAdmin(e);
    const r = await call(e, "POST", "/api/auth/login", {
      body: "username=admin&password=correct+horse",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    assert.equal(r.status, 200);
    cookie = cookieOf(r);
    await r.body?.cancel();
    e.db.close();
  }
  await using e2 = await env({}, dir);
  const me = await call(e2, "GET", "/api/auth/me", { cookie });
  assert.equal(me.status, 200);
  assert.equal((await me.json()).user.username, "admin");
});

Deno.test("sessions end after the idle timeout and after the absolute timeout; logout ends one", async () => {
  await using e = await env({ sessions: { idleTimeout: 60_000, absoluteTimeout: 300_000 } });
  const { cookie } = await setupAdmin(e);
  for (let i = 0; i < 6; i++) {
    await e.clock.advance(50_000);
    const r = await call(e, "GET", "/api/auth/me", { cookie });
    assert.equal(r.status, i < 5 ? 200 : 401, `after ${(i + 1) * 50} s`);
    await r.body?.cancel();
  }
  const r2 = await login(e, "admin", "correct horse");
  const c2 = cookieOf(r2);
  const x2 = (await r2.json()).xsrf;
  await e.clock.advance(61_000);
  assert.equal((await call(e, "GET", "/api/auth/me", { cookie: c2 })).status, 401, "idle");
  const r3 = await login(e, "admin", "correct horse");
  const c3 = cookieOf(r3);
  const x3 = (await r3.json()).xsrf;
  const out = await call(e, "POST", "/api/auth/logout", { cookie: c3, xsrf: x3 });
  assert.equal(out.status, 204);
  assert.match(out.headers.get("set-cookie")!, /Max-Age=0/);
  assert.equal((await call(e, "GET", "/api/auth/me", { cookie: c3 })).status, 401);
  void x2;
});

Deno.test("XSRF: a state-changing cookie request without or with a wrong token is 403", async () => {
  await using e = await env();
  const { cookie, xsrf } = await setupAdmin(e);
  const body = { username: "bob", password: "bob-password", role: "user" };
  const none = await call(e, "POST", "/api/users", { cookie, body });
  assert.equal(none.status, 403);
  assert.equal((await none.json()).error.code, "xsrf");
  const wrong = await call(e, "POST", "/api/users", { cookie, body, xsrf: xsrf.slice(1) + "x" });
  assert.equal(wrong.status, 403);
  await wrong.body?.cancel();
  assert.equal(e.db.get("_User", { username: "bob" }), undefined, "nothing changed");
  const ok = await call(e, "POST", "/api/users", { cookie, body, xsrf });
  assert.equal(ok.status, 201);
  const me = await (await call(e, "GET", "/api/auth/me", { cookie })).json();
  assert.equal(me.xsrf, xsrf, "a safe request returns the token");
});

Deno.test("roles: 401 without login, 403 when too low, no escalation through the users API", async () => {
  await using e = await env();
  const admin = await setupAdmin(e);
  await (await call(e, "POST", "/api/users", {
    ...admin,
    body: { username: "bob", password: "bob-password", role: "user" },
  })).body?.cancel();
  assert.equal((await call(e, "GET", "/api/users")).status, 401);
  const r = await login(e, "bob", "bob-password");
  const bob = { cookie: cookieOf(r), xsrf: (await r.json()).xsrf };
  const list = await call(e, "GET", "/api/users", { cookie: bob.cookie });
  assert.equal(list.status, 403);
  await list.body?.cancel();
  const promote = await call(e, "PATCH", "/api/users/bob", { ...bob, body: { role: "admin" } });
  assert.equal(promote.status, 403);
  await promote.body?.cancel();
  const create = await call(e, "POST", "/api/users", {
    ...bob,
    body: { username: "mallory", password: "mallory-pw", role: "admin" },
  });
  assert.equal(create.status, 403);
  await create.body?.cancel();
  assert.equal(e.db.get("_User", { username: "bob" })!.role, "user");
  assert.equal(e.db.get("_User", { username: "mallory" }), undefined);
  // A role the config does not declare is refused with the field named.
  const bogus = await call(e, "POST", "/api/users", {
    ...admin,
    body: { username: "eve", password: "eve-password", role: "root" },
  });
  assert.equal(bogus.status, 400);
  assert.equal((await bogus.json()).error.fields[0].path, "role");
  // Status is for users; metrics for admins.
  assert.equal((await call(e, "GET", "/api/status", { cookie: bob.cookie })).status, 200);
  assert.equal((await call(e, "GET", "/metrics", { cookie: bob.cookie })).status, 403);
  assert.equal((await call(e, "GET", "/metrics", { cookie: admin.cookie })).status, 200);
});

Deno.test("brute force: growing delay, lockout per user and per address, audit events", async () => {
  await using e = await env({
    auth: { iterations: 10_000, maxFailures: 3, delay: 1000, lockout: 60_000 },
  });
  await setupAdmin(e);
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await login(e, "admin", "wrong");
    statuses.push(r.status);
    await r.body?.cancel();
    const early = await login(e, "admin", "wrong");
    statuses.push(early.status);
    if (early.status === 429) assert.ok(Number(early.headers.get("retry-after")) >= 1);
    await early.body?.cancel();
    await e.clock.advance(1000 * 2 ** i);
  }
  assert.deepEqual(statuses, [401, 429, 401, 429, 401, 429]);
  // Locked out now: even the right password is refused until the lockout ends.
  const locked = await login(e, "admin", "correct horse");
  assert.equal(locked.status, 429);
  assert.equal((await locked.json()).error.code, "locked_out");
  const otherAddr = await login(e, "admin", "correct horse", {
    remoteAddr: "198.51.100.1",
    secure: false,
  });
  assert.equal(otherAddr.status, 429, "the user is locked from every address");
  await otherAddr.body?.cancel();
  await e.clock.advance(60_000);
  const ok = await login(e, "admin", "correct horse");
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  const audit = e.logs.filter((r) => r.source === "web.audit");
  assert.equal(audit.filter((r) => r.msg === "login failed").length, 3);
  assert.ok(audit.some((r) => r.msg === "login throttled" && r.fields?.locked === true));
  assert.ok(audit.some((r) => r.msg === "login" && r.fields?.user === "admin"));
  assert.ok(!JSON.stringify(e.logs).includes("correct horse"), "no password in any log line");
});

Deno.test("a lockout survives a restart: the throttle is kept in the database", async () => {
  const dir = await Deno.makeTempDir();
  const web = { auth: { iterations: 10_000, maxFailures: 2, delay: 1000, lockout: 60_000 } };
  {
    const e = await env(web, dir);
    await setupAdmin(e);
    for (let i = 0; i < 2; i++) {
      const r = await login(e, "admin", "wrong");
      assert.equal(r.status, 401);
      await r.body?.cancel();
      await e.clock.advance(1000 * 2 ** i);
    }
    const rows = e.db.find("_LoginThrottle", {}).items.map((i) => [i.key, i.failures]);
    assert.deepEqual(rows.sort(), [["a:192.0.2.7", 2], ["u:admin", 2]].sort());
    e.db.close();
  }
  await using e2 = await env(web, dir);
  const locked = await login(e2, "admin", "correct horse");
  assert.equal(locked.status, 429);
  assert.equal((await locked.json()).error.code, "locked_out");
  // The restarted agent's clock starts where the first one did: the lockout began 1 s later.
  await e2.clock.advance(61_000);
  const ok = await login(e2, "admin", "correct horse");
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  assert.equal(e2.db.find("_LoginThrottle", {}).items.length, 0, "a success clears the record");
});

Deno.test("API tokens authenticate without XSRF, are stored hashed and can be revoked", async () => {
  await using e = await env();
  await setupAdmin(e);
  const { token, prefix } = await e.deps.auth!.createToken("ci", "admin");
  assert.match(token, /^tern_[A-Za-z0-9_-]{43}$/);
  const rows = e.db.find("_Token", {}).items;
  assert.equal(rows.length, 1);
  assert.ok(!JSON.stringify(rows).includes(token), "only the hash is stored");
  const auth = { authorization: `Bearer ${token}` };
  const r = await call(e, "POST", "/api/users", {
    headers: auth,
    body: { username: "carol", password: "carol-password", role: "user" },
  });
  assert.equal(r.status, 201);
  assert.equal(e.deps.auth!.revokeToken(prefix), 1);
  const after = await call(e, "GET", "/api/users", { headers: auth });
  assert.equal(after.status, 401);
  await after.body?.cancel();
});

Deno.test("a valid session wins over a bearer token sent with it; a stale cookie falls back to the token", async () => {
  await using e = await env();
  const admin = await setupAdmin(e);
  const user = { authorization: `Bearer ${(await e.deps.auth!.createToken("low", "user")).token}` };
  // The admin's session, with a user-role token: the session decides (admin-only route).
  const both = await call(e, "GET", "/api/users", { cookie: admin.cookie, headers: user });
  assert.equal(both.status, 200);
  await both.body?.cancel();
  // ... so an unsafe request is a cookie request: it needs the XSRF token.
  const body = { username: "dave", password: "dave-password", role: "user" };
  const noXsrf = await call(e, "POST", "/api/users", { cookie: admin.cookie, headers: user, body });
  assert.equal(noXsrf.status, 403);
  assert.equal((await noXsrf.json()).error.code, "xsrf");
  // A cookie that is no live session: the token decides (user role: 403 here, not 401).
  const stale = await call(e, "GET", "/api/users", {
    cookie: "tern_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    headers: user,
  });
  assert.equal(stale.status, 403);
  await stale.body?.cancel();
  assert.equal(e.db.find("_User", {}).items.length, 1, "nothing was created");
});

Deno.test("data API: exposed models only, hidden fields never returned, every bad field listed, paging", async () => {
  await using e = await env();
  const admin = await setupAdmin(e);
  const nf = await call(e, "GET", "/api/data/Private", { cookie: admin.cookie });
  assert.equal(nf.status, 404, "not exposed");
  await nf.body?.cancel();
  const sys = await call(e, "GET", "/api/data/_User", { cookie: admin.cookie });
  assert.equal(sys.status, 404, "system models never");
  await sys.body?.cancel();
  const list = await call(e, "GET", "/api/data", { cookie: admin.cookie });
  assert.deepEqual(
    (await list.json()).models.map((m: { name: string }) => m.name),
    ["Reading"],
    "the exposed models only",
  );
  for (const name of ["constructor", "toString", "hasOwnProperty"]) {
    const inherited = await call(e, "GET", `/api/data/${name}/k`, { cookie: admin.cookie });
    assert.equal(inherited.status, 404, `${name}: an Object property is no model`);
    await inherited.body?.cancel();
  }
  const bad = await call(e, "POST", "/api/data/Reading", {
    ...admin,
    body: { sensor: 5, value: 999, colour: "red" },
  });
  assert.equal(bad.status, 400);
  const fields = (await bad.json()).error.fields.map((f: { path: string }) => f.path).sort();
  assert.deepEqual(fields, ["colour", "sensor", "time", "value"]);
  for (let i = 0; i < 5; i++) {
    const r = await call(e, "POST", "/api/data/Reading", {
      ...admin,
      body: { sensor: "s1", time: `2026-01-01T00:00:0${i}.000Z`, value: i, secret: "k" },
    });
    assert.equal(r.status, 201);
    const item = (await r.json()).item;
    assert.equal(item.secret, undefined);
  }
  const p1 = await (await call(e, "GET", "/api/data/Reading?sensor=s1&limit=3", admin)).json();
  assert.equal(p1.items.length, 3);
  assert.ok(p1.next);
  assert.ok(p1.items.every((i: Record<string, unknown>) => !("secret" in i)));
  const p2 = await (await call(
    e,
    "GET",
    `/api/data/Reading?sensor=s1&limit=3&next=${encodeURIComponent(p1.next)}`,
    admin,
  )).json();
  assert.equal(p2.items.length, 2);
  assert.equal(p2.next, undefined);
  const key = p1.items[0]._key;
  const oneRes = await call(e, "GET", `/api/data/Reading/${key}`, admin);
  assert.equal(oneRes.headers.get("cache-control"), "no-store", "private answers are not cached");
  const one = await oneRes.json();
  assert.equal(one.item.value, 0);
  const patched = await call(e, "PATCH", `/api/data/Reading/${key}`, {
    ...admin,
    body: { value: 42 },
  });
  assert.equal((await patched.json()).item.value, 42);
  const stale = await call(e, "DELETE", `/api/data/Reading/${key}`, {
    ...admin,
    headers: { "if-match": "1" },
  });
  assert.equal(stale.status, 409);
  await stale.body?.cancel();
  const del = await call(e, "DELETE", `/api/data/Reading/${key}`, admin);
  assert.equal(del.status, 204);
  assert.equal((await call(e, "GET", `/api/data/Reading/${key}`, admin)).status, 404);
  // A user may read but not write.
  await (await call(e, "POST", "/api/users", {
    ...admin,
    body: { username: "bob", password: "bob-password", role: "user" },
  })).body?.cancel();
  const r = await login(e, "bob", "bob-password");
  const bob = { cookie: cookieOf(r), xsrf: (await r.json()).xsrf };
  assert.equal((await call(e, "GET", "/api/data/Reading?sensor=s1", bob)).status, 200);
  const w = await call(e, "POST", "/api/data/Reading", {
    ...bob,
    body: { sensor: "s1", time: "2026-01-01T00:00:09.000Z", value: 1 },
  });
  assert.equal(w.status, 403);
  await w.body?.cancel();
});

Deno.test("status and health report the services' states; logs serve the ring", async () => {
  await using e = await env();
  const admin = await setupAdmin(e);
  const states = [
    { name: "database", state: "running" as const, since: 0, restarts: 0 },
    { name: "mqtt", state: "failed" as const, since: 0, restarts: 2, lastError: "refused" },
  ];
  e.deps.status = { services: () => states };
  const st = await (await call(e, "GET", "/api/status", admin)).json();
  assert.equal(st.services.length, 2);
  assert.equal(st.services[1].restarts, 2);
  assert.equal(typeof st.version, "string");
  const h = await call(e, "GET", "/api/health");
  assert.equal(h.status, 503);
  assert.deepEqual((await h.json()).failing, [{ name: "mqtt", state: "failed" }]);
  states[1]!.state = "running" as never;
  assert.equal((await call(e, "GET", "/api/health")).status, 200);
  const { RingSink } = await import("../lib/log/mod.ts");
  const ring = new RingSink(10);
  ring.write({ time: 0, level: "info", source: "web", msg: "hello" });
  ring.write({ time: 1, level: "warn", source: "mqtt", msg: "offline" });
  e.deps.logs = ring;
  const { registerLogs } = await import("../routes/api/logs.ts");
  registerLogs(e.deps);
  const logs = await (await call(e, "GET", "/api/logs?level=warn", admin)).json();
  assert.deepEqual(logs.entries.map((r: { msg: string }) => r.msg), ["offline"]);
  assert.equal((await call(e, "GET", "/api/logs?level=loud", admin)).status, 400);
});

Deno.test("a password change or token revocation by another process ends access promptly", async () => {
  await using e = await env({ sessions: { idleTimeout: 600_000, absoluteTimeout: 3_600_000 } });
  const admin = await setupAdmin(e);
  const { token } = await e.deps.auth!.createToken("ci", "user");
  const bearer = { headers: { authorization: `Bearer ${token}` } };
  assert.equal((await call(e, "GET", "/api/status", { cookie: admin.cookie })).status, 200);
  assert.equal((await call(e, "GET", "/api/status", bearer)).status, 200);
  // What `tern user passwd` and `tern token revoke` do, through their own store.
  const { AuthStore } = await import("../lib/web/mod.ts");
  const other = new AuthStore(e.db);
  assert.equal(other.removeSessionsOf("admin"), 1);
  assert.equal(other.revokeToken(token.slice(0, 12)), 1);
  await e.clock.advance(61_000);
  assert.equal((await call(e, "GET", "/api/status", { cookie: admin.cookie })).status, 401);
  assert.equal((await call(e, "GET", "/api/status", bearer)).status, 401);
});

Deno.test("at most 4 password hashes run at once; more logins get 503 + Retry-After", async () => {
  await using e = await env();
  await setupAdmin(e);
  const results = await Promise.all(
    Array.from(
      { length: 12 },
      (_, i) =>
        login(e, "admin", "wrong-password", { remoteAddr: `198.51.100.${i}`, secure: false }),
    ),
  );
  const codes = results.map((r) => r.status);
  for (const r of results) await r.body?.cancel();
  assert.equal(codes.filter((c) => c === 401).length, 4, codes.join(","));
  assert.equal(codes.filter((c) => c === 503).length, 8);
  assert.equal(results.find((r) => r.status === 503)!.headers.get("retry-after"), "1");
});

Deno.test("two setups racing with the token create one admin", async () => {
  await using e = await env();
  const token = e.deps.setup.token;
  const [a, b] = await Promise.all([
    call(e, "POST", "/api/auth/setup", {
      body: { token, username: "one", password: "password-1" },
    }),
    call(e, "POST", "/api/auth/setup", {
      body: { token, username: "two", password: "password-2" },
    }),
  ]);
  assert.deepEqual([a.status, b.status].sort(), [201, 403]);
  await a.body?.cancel();
  await b.body?.cancel();
  assert.equal(e.db.count("_User"), 1);
});
