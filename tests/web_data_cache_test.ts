/**
 * `GET /api/data/:model/:key` answers from memory after the first read, and
 * never stale: writes through the API, writes on the database in this
 * process, removals and TTL models show on the very next request; writes by
 * another process (a second SQLite connection) within a second.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { FakeClock } from "../lib/clock.ts";
import { configSchema } from "../lib/config/mod.ts";
import { Database } from "../lib/db/mod.ts";
import { nullLogger } from "../lib/log/mod.ts";
import type { WebApp } from "../lib/web/mod.ts";
import type { WebDeps } from "../routes/deps.ts";
import { buildApp } from "../routes/web_service.ts";
import { READING as BASE_READING } from "./helpers/reading.ts";

const READING = {
  ...BASE_READING,
  fields: { ...BASE_READING.fields, secret: { type: "string", hidden: true } },
};

const SCHEMA = {
  Reading: READING,
  /** Same key templates as Reading: its items' key text collides with Reading's. */
  Twin: READING,
  Temp: {
    pk: "T#${id}",
    fields: {
      id: { type: "string", required: true },
      value: { type: "number", required: true },
      expires: { type: "date", ttl: true },
    },
  },
};

interface Env {
  app: WebApp;
  deps: WebDeps;
  db: Database;
  clock: FakeClock;
  dir: string;
  cookie: string;
  [Symbol.asyncDispose](): Promise<void>;
}

async function env(): Promise<Env> {
  const dir = await Deno.makeTempDir();
  const clock = new FakeClock();
  const config = configSchema.parse({
    web: {
      auth: { iterations: 10_000 },
      static: { enabled: false },
      api: {
        models: {
          Reading: { read: "user", write: "user" },
          Twin: { read: "user", write: "user" },
          Temp: { read: "user", write: "user" },
        },
      },
    },
    schema: { models: SCHEMA },
  });
  const db = Database.open({
    path: `${dir}/tern.db`,
    schema: config.schema.models,
    clock,
    purgeInterval: 0,
  });
  const { app, deps } = buildApp(config, { log: nullLogger, clock, db });
  const r = await app.request(
    new Request("http://dev.local/api/auth/setup", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: deps.setup.token, username: "admin", password: "pw-pw-pw-pw" }),
    }),
  );
  assert.equal(r.status, 201);
  await r.body?.cancel();
  const cookie = r.headers.get("set-cookie")!.split(";")[0]!;
  return {
    app,
    deps,
    db,
    clock,
    dir,
    cookie,
    async [Symbol.asyncDispose]() {
      for (const c of deps.closers ?? []) c();
      deps.auth?.close();
      db.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

// deno-lint-ignore no-explicit-any
async function get(e: Env, path: string): Promise<{ status: number; body: Record<string, any> }> {
  const r = await e.app.request(
    new Request(`http://dev.local${path}`, { headers: { cookie: e.cookie } }),
  );
  return { status: r.status, body: await r.json() };
}

/** Count `db.get` calls made while `fn` runs. */
async function reads(db: Database, fn: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const d = db as unknown as { get: (...a: unknown[]) => unknown };
  const orig = d.get;
  d.get = (...a: unknown[]) => {
    n++;
    return orig.apply(db, a);
  };
  try {
    await fn();
  } finally {
    delete (d as Partial<typeof d>).get;
  }
  return n;
}

async function keyOf(e: Env): Promise<string> {
  e.db.create("Reading", { sensor: "s1", time: "2026-01-01T00:00:00Z", value: 1, secret: "x" });
  const list = await get(e, "/api/data/Reading?sensor=s1");
  return list.body.items[0]._key;
}

Deno.test("a read item is answered from memory, identical to the first answer", async () => {
  await using e = await env();
  const key = await keyOf(e);
  const first = await get(e, `/api/data/Reading/${key}`);
  assert.equal(first.status, 200);
  assert.equal(first.body.item.secret, undefined, "hidden field never returned");
  let again: Awaited<ReturnType<typeof get>> | undefined;
  const n = await reads(e.db, async () => again = await get(e, `/api/data/Reading/${key}`));
  assert.equal(n, 0, "no database read");
  assert.deepEqual(again, first);
});

Deno.test("writes in this process (API and direct) show on the next request", async () => {
  await using e = await env();
  const key = await keyOf(e);
  assert.equal((await get(e, `/api/data/Reading/${key}`)).body.item.value, 1);
  e.db.update("Reading", { sensor: "s1", time: "2026-01-01T00:00:00Z" }, { value: 2 });
  assert.equal((await get(e, `/api/data/Reading/${key}`)).body.item.value, 2, "direct write");
  const me = await get(e, "/api/auth/me");
  const patch = await e.app.request(
    new Request(`http://dev.local/api/data/Reading/${key}`, {
      method: "PATCH",
      headers: {
        cookie: e.cookie,
        "content-type": "application/json",
        "x-xsrf-token": me.body.xsrf,
      },
      body: JSON.stringify({ value: 3 }),
    }),
  );
  assert.equal(patch.status, 200);
  await patch.body?.cancel();
  assert.equal((await get(e, `/api/data/Reading/${key}`)).body.item.value, 3, "API write");
  e.db.remove("Reading", { sensor: "s1", time: "2026-01-01T00:00:00Z" });
  assert.equal((await get(e, `/api/data/Reading/${key}`)).status, 404, "removed");
});

Deno.test("a write by another process shows within a second", async () => {
  await using e = await env();
  const key = await keyOf(e);
  assert.equal((await get(e, `/api/data/Reading/${key}`)).body.item.value, 1);
  const db2 = Database.open({
    path: `${e.dir}/tern.db`,
    schema: SCHEMA as never,
    clock: e.clock,
    purgeInterval: 0,
  });
  try {
    db2.update("Reading", { sensor: "s1", time: "2026-01-01T00:00:00Z" }, { value: 9 });
  } finally {
    db2.close();
  }
  await e.clock.advance(1000);
  assert.equal((await get(e, `/api/data/Reading/${key}`)).body.item.value, 9);
});

Deno.test("another spelling of a key and TTL models are not served from memory", async () => {
  await using e = await env();
  const key = await keyOf(e);
  const padded = Buffer.from(key, "base64url").toString("base64"); // same key, other spelling
  const a = await get(e, `/api/data/Reading/${encodeURIComponent(padded)}`);
  assert.equal(a.status, 200);
  assert.equal(a.body.item._key, padded, "echoes the spelling asked for");
  assert.equal((await get(e, `/api/data/Reading/${key}`)).body.item._key, key);
  e.db.create("Temp", { id: "t1", value: 5, expires: "2030-01-01T00:00:00Z" });
  const t = (await get(e, "/api/data/Temp")).body.items[0]._key;
  await get(e, `/api/data/Temp/${t}`);
  const n = await reads(e.db, () => get(e, `/api/data/Temp/${t}`));
  assert.equal(n, 1, "TTL model read from the database every time");
});

Deno.test("two models whose items have the same key text never answer for each other", async () => {
  await using e = await env();
  const key = await keyOf(e);
  e.db.create("Twin", { sensor: "s1", time: "2026-01-01T00:00:00Z", value: 99 });
  for (let i = 0; i < 2; i++) {
    assert.equal((await get(e, `/api/data/Reading/${key}`)).body.item.value, 1);
    assert.equal((await get(e, `/api/data/Twin/${key}`)).body.item.value, 99);
  }
  e.db.update("Twin", { sensor: "s1", time: "2026-01-01T00:00:00Z" }, { value: 100 });
  assert.equal((await get(e, `/api/data/Twin/${key}`)).body.item.value, 100);
  assert.equal((await get(e, `/api/data/Reading/${key}`)).body.item.value, 1);
});

Deno.test("an item answered from memory carries the first answer's headers: its type, no-store once", async () => {
  await using e = await env();
  const key = await keyOf(e);
  const read = async () => {
    const r = await e.app.request(
      new Request(`http://dev.local/api/data/Reading/${key}`, { headers: { cookie: e.cookie } }),
    );
    return { headers: [...r.headers], text: await r.text() };
  };
  const first = await read();
  assert.deepEqual(first.headers, [
    ["cache-control", "no-store"],
    ["content-type", "application/json"],
  ]);
  for (let i = 0; i < 3; i++) assert.deepEqual(await read(), first, `cached read ${i + 1}`);
});
