/**
 * The audit trail end to end through the real agent (database, audit, web
 * on a loopback socket): first-run setup, logins (success, wrong password,
 * unknown user, throttled), logout, user create/change/role/remove, a 403,
 * audited data writes, agent start/stop and a crash, config reload, and
 * `/api/audit`. Asserted on the rows of the `_audit` table: each action is
 * exactly one event with the right actor, source and outcome, the chain
 * verifies, and no password ever reaches an event.
 */

import assert from "node:assert/strict";
import { Agent } from "../lib/agent.ts";
import { configSchema, type LoadedConfig } from "../lib/config/mod.ts";
import { type AuditEvent, AuditLog, Database } from "../lib/db/mod.ts";
import { LogHub, RingSink } from "../lib/log/mod.ts";
import { freePort } from "../deploy/free_port.ts";
import { SERVICES } from "../services.ts";
import type { WebService } from "../routes/web_service.ts";

const PW = "correct-horse-battery";
const BOB_PW = "bobs-secret-password";

function loaded(dir: string, port: number, extra: Record<string, unknown> = {}): LoadedConfig {
  const config = configSchema.parse({
    device: { id: "d1" },
    web: {
      listen: [`http://127.0.0.1:${port}`],
      auth: { iterations: 10_000, maxFailures: 3, delay: 0, lockout: 60_000 },
      static: { enabled: false },
      api: {
        models: {
          Door: { read: "user", write: "admin" },
          Note: { read: "user", write: "admin" },
        },
      },
      ...extra,
    },
    schema: {
      models: {
        Door: {
          pk: "Door#${id}",
          audit: true,
          fields: { id: { type: "string", required: true }, open: { type: "boolean" } },
        },
        Note: { pk: "Note#${id}", fields: { id: { type: "string", required: true } } },
      },
    },
  });
  return { config, configDir: dir, stateDir: dir, files: [], secrets: [] };
}

async function start(dir: string, port: number) {
  const ring = new RingSink(500);
  const hub = new LogHub({ sinks: [ring], level: "warn" });
  return await Agent.start({ loaded: loaded(dir, port), factories: SERVICES, hub, ring });
}

/** A tiny client with a cookie jar and the XSRF token. */
class Client {
  cookie = "";
  xsrf = "";
  constructor(readonly base: string) {}
  async call(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.cookie) headers.cookie = this.cookie;
    if (this.xsrf) headers["x-xsrf-token"] = this.xsrf;
    const r = await fetch(this.base + path, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const set = r.headers.get("set-cookie");
    if (set) this.cookie = set.split(";")[0]!;
    return r;
  }
  // deno-lint-ignore no-explicit-any
  async json(method: string, path: string, body?: unknown): Promise<[number, any]> {
    const r = await this.call(method, path, body);
    const text = await r.text();
    return [r.status, text ? JSON.parse(text) : null];
  }
  async login(username: string, password: string): Promise<number> {
    this.xsrf = "";
    const [status, body] = await this.json("POST", "/api/auth/login", { username, password });
    if (status === 200) this.xsrf = body.xsrf;
    return status;
  }
}

/** The events stored after seq `after`, straight from the table. */
function eventsAfter(dir: string, after: number): AuditEvent[] {
  using db = Database.open({ path: `${dir}/tern.db`, purgeInterval: 0 });
  return new AuditLog(db, { create: false }).list({ after, limit: 10_000 });
}

const brief = (e: AuditEvent) => `${e.action} ${e.actor.type}:${e.actor.id} ${e.outcome}`;

Deno.test("each web action is exactly one audit event with its actor, source and outcome", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tern_audit_web_" });
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  let agent = await start(dir, port);
  try {
    const setup = agent.get<WebService>("web").deps.setup.token!;
    const start0 = eventsAfter(dir, 0);
    assert.deepEqual(start0.map(brief), ["agent.start agent:d1 success"]);
    let seen = start0.at(-1)!.seq;
    /** Run `fn`; the events it caused, as brief lines. */
    const step = async (fn: () => Promise<unknown>): Promise<AuditEvent[]> => {
      await fn();
      const got = eventsAfter(dir, seen);
      if (got.length) seen = got.at(-1)!.seq;
      return got;
    };
    const admin = new Client(base);

    let ev = await step(async () => {
      const [s] = await admin.json("POST", "/api/auth/setup", {
        token: "wrong-token-123",
        username: "admin",
        password: PW,
      });
      assert.equal(s, 403);
    });
    assert.deepEqual(ev.map(brief), ["auth.setup user:admin denied"], "one event, not two");
    ev = await step(async () => {
      const [s, b] = await admin.json("POST", "/api/auth/setup", {
        token: setup,
        username: "admin",
        password: PW,
      });
      assert.equal(s, 201);
      admin.xsrf = b.xsrf;
    });
    assert.deepEqual(ev.map(brief), ["auth.setup user:admin success"]);
    assert.equal(ev[0]!.source, "127.0.0.1");

    ev = await step(async () => assert.equal(await admin.login("admin", "wrong-password"), 401));
    assert.deepEqual(ev.map(brief), ["auth.login user:admin failure"]);
    assert.equal(ev[0]!.details?.reason, "password");
    ev = await step(async () => assert.equal(await admin.login("mallory", "whatever1"), 401));
    assert.deepEqual(ev.map(brief), ["auth.login user:mallory failure"]);
    ev = await step(async () => assert.equal(await admin.login("admin", PW), 200));
    assert.deepEqual(ev.map(brief), ["auth.login user:admin success"]);

    ev = await step(async () => {
      const [s] = await admin.json("POST", "/api/users", {
        username: "bob",
        password: BOB_PW,
        role: "user",
      });
      assert.equal(s, 201);
    });
    assert.deepEqual(ev.map(brief), ["user.create user:admin success"]);
    assert.equal(ev[0]!.target, "user:bob");

    ev = await step(async () =>
      assert.equal((await admin.json("PATCH", "/api/users/bob", { name: "Bob B" }))[0], 200)
    );
    assert.deepEqual(ev.map(brief), ["user.update user:admin success"]);
    assert.deepEqual(ev[0]!.details, { fields: ["name"] });

    // Bad input: a clear error, no event.
    ev = await step(async () =>
      assert.equal((await admin.json("PATCH", "/api/users/bob", { role: "emperor" }))[0], 400)
    );
    assert.deepEqual(ev, []);

    const bob = new Client(base);
    ev = await step(async () => assert.equal(await bob.login("bob", BOB_PW), 200));
    assert.deepEqual(ev.map(brief), ["auth.login user:bob success"]);
    ev = await step(async () => assert.equal((await bob.json("GET", "/api/users"))[0], 403));
    assert.deepEqual(ev.map(brief), ["access.denied user:bob denied"]);
    assert.equal(ev[0]!.target, "route:GET /api/users");
    ev = await step(async () =>
      assert.equal((await bob.json("POST", "/api/data/Door", { id: "front" }))[0], 403)
    );
    assert.deepEqual(ev.map(brief), ["access.denied user:bob denied"]);
    ev = await step(async () => assert.equal((await bob.json("GET", "/api/audit"))[0], 403));
    assert.deepEqual(ev.map(brief), ["access.denied user:bob denied"]);

    let key = "";
    ev = await step(async () => {
      const [s, b] = await admin.json("POST", "/api/data/Door", { id: "front", open: false });
      assert.equal(s, 201);
      key = b.item._key;
      const path = `/api/data/Door/${encodeURIComponent(key)}`;
      assert.equal((await admin.json("PATCH", path, { open: true }))[0], 200);
      assert.equal((await admin.call("DELETE", path)).status, 204);
      // Not an audited model: no event.
      assert.equal((await admin.json("POST", "/api/data/Note", { id: "n1" }))[0], 201);
    });
    assert.deepEqual(ev.map(brief), [
      "data.create user:admin success",
      "data.update user:admin success",
      "data.delete user:admin success",
    ]);
    assert.deepEqual(ev.map((e) => e.target), Array(3).fill(`model:Door/${key}`));

    ev = await step(async () =>
      assert.equal((await admin.json("PATCH", "/api/users/bob", { role: "admin" }))[0], 200)
    );
    assert.deepEqual(ev.map(brief), ["user.role user:admin success"]);
    assert.equal((ev[0]!.details as Record<string, unknown>).role, "admin");

    ev = await step(async () =>
      assert.equal((await bob.call("POST", "/api/auth/logout")).status, 401)
    );
    assert.deepEqual(ev, [], "bob's sessions ended with the role change: nothing to log out");
    ev = await step(async () =>
      assert.equal((await admin.call("POST", "/api/auth/logout")).status, 204)
    );
    assert.deepEqual(ev.map(brief), ["auth.logout user:admin success"]);

    assert.equal(await admin.login("admin", PW), 200);
    ev = await step(async () =>
      assert.equal((await admin.call("DELETE", "/api/users/bob")).status, 204)
    );
    assert.deepEqual(ev.slice(1).map(brief), ["user.remove user:admin success"]);

    // Config reload: one event naming what changed.
    ev = await step(() => agent.reload(loaded(dir, port, { auth: { iterations: 20_000 } })));
    assert.deepEqual(ev.map(brief), ["config.reload agent:d1 success"]);
    assert.ok(
      ((ev[0]!.details as Record<string, unknown>).changed as string[]).includes(
        "web.auth.iterations",
      ),
    );

    // /api/audit (admin): filters and the chain check.
    const [s1, page] = await admin.json("GET", "/api/audit?action=auth.login&outcome=failure");
    assert.equal(s1, 200);
    assert.equal(page.events.length, 2);
    assert.ok(page.events.every((e: AuditEvent) => e.action === "auth.login"));
    const [s2, v] = await admin.json("GET", "/api/audit/verify");
    assert.equal(s2, 200);
    assert.equal(v.ok, true);
    const [s3, err] = await admin.json("GET", "/api/audit?bogus=1");
    assert.equal(s3, 400);
    assert.match(err.error.message, /Unknown filter "bogus"/);
    const [s4, mine] = await admin.json("POST", "/api/audit", {
      action: "app.door.open",
      target: "door:front",
      details: { password: "hunter22-door", note: "manual" },
    });
    assert.equal(s4, 201);
    assert.equal(mine.event.actor.id, "admin");
    assert.equal(mine.event.details.password, "[redacted]");
    assert.equal((await admin.json("POST", "/api/audit", { action: "auth.login" }))[0], 400);

    // Throttling: 3 failures, then the 4th try is refused without checking the password.
    // Reading /api/audit records nothing; the device's own event is one.
    ev = await step(() => Promise.resolve());
    assert.deepEqual(ev.map(brief), ["app.door.open user:admin success"]);

    const eve = new Client(base);
    ev = await step(async () => {
      for (let i = 0; i < 3; i++) assert.equal(await eve.login("eve", "nope-nope-nope"), 401);
      assert.equal(await eve.login("eve", BOB_PW), 429);
    });
    assert.deepEqual(ev.map(brief), [
      "auth.login user:eve failure",
      "auth.login user:eve failure",
      "auth.login user:eve failure",
      "auth.login user:eve denied",
    ]);

    await agent.stop();
    agent = await start(dir, freePort()); // a clean stop: no crash event
    await agent.stop();
    const all = eventsAfter(dir, 0);
    const tail = all.slice(-3).map(brief);
    assert.deepEqual(tail, [
      "agent.stop agent:d1 success",
      "agent.start agent:d1 success",
      "agent.stop agent:d1 success",
    ]);
    const text = JSON.stringify(all);
    for (const secret of [PW, BOB_PW, "nope-nope-nope", "wrong-password", "hunter22-door", setup]) {
      assert.ok(!text.includes(secret), `secret ${secret.slice(0, 4)}… in an event`);
    }
    {
      using db = Database.open({ path: `${dir}/tern.db`, purgeInterval: 0 });
      assert.equal(new AuditLog(db).verify().ok, true);
    }
  } finally {
    await agent.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
