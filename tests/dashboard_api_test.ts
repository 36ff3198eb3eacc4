/**
 * The API endpoints the dashboard added, on a real database file through
 * `app.request()` (no socket): `/api/tokens`, `/api/config` (secrets
 * redacted), `/api/events` (server-sent events: status, logs, metric
 * samples) and the metric history sampled from the registry.
 */

import assert from "node:assert/strict";
import { FakeClock, systemClock } from "../lib/clock.ts";
import { configSchema } from "../lib/config/mod.ts";
import { Database } from "../lib/db/mod.ts";
import { LogHub, RingSink } from "../lib/log/mod.ts";
import { MetricsRegistry } from "../lib/metrics/mod.ts";
import { AuthStore, hashPassword } from "../lib/web/mod.ts";
import { MetricsHistory } from "../routes/api/_history.ts";
import { buildApp } from "../routes/web_service.ts";
import { READING } from "./helpers/reading.ts";

const ADDR = { remoteAddr: "192.0.2.7", secure: false };
const MQTT_PW = "mqtt-password-never-shown";
const AWS_SECRET = "aws-secret-key-never-shown";

async function env() {
  const dir = await Deno.makeTempDir({ prefix: "tern_dash_api_" });
  const ring = new RingSink(100);
  const hub = new LogHub({ sinks: [ring], level: "debug" });
  const config = configSchema.parse({
    device: { id: "dev-9" },
    web: {
      auth: { iterations: 10_000 },
      static: { enabled: false },
      api: { models: { Reading: { read: "user", write: "admin" } } },
    },
    mqtt: { url: "mqtts://broker.example:8883", password: MQTT_PW },
    aws: {
      region: "eu-west-1",
      credentials: { accessKeyId: "AKIDEXAMPLE00000", secretAccessKey: AWS_SECRET },
    },
    schema: { models: { Reading: READING } },
  });
  const db = Database.open({
    path: `${dir}/tern.db`,
    schema: config.schema.models,
    clock: systemClock,
    purgeInterval: 0,
  });
  const store = new AuthStore(db);
  for (const [username, role] of [["root", "admin"], ["ann", "user"]]) {
    store.createUser({
      username: username!,
      role: role!,
      passwordHash: await hashPassword("password-123", 10_000),
    });
  }
  const { app, deps } = buildApp(config, {
    log: hub.logger("web"),
    clock: systemClock,
    db,
    logs: ring,
    deviceId: "dev-9",
  });
  const call = (
    method: string,
    path: string,
    o: { body?: unknown; s?: Session; bearer?: string } = {},
  ) => {
    const headers: Record<string, string> = {};
    if (o.body !== undefined) headers["content-type"] = "application/json";
    if (o.s) {
      headers.cookie = o.s.cookie;
      headers["x-xsrf-token"] = o.s.xsrf;
    }
    if (o.bearer) headers.authorization = `Bearer ${o.bearer}`;
    return Promise.resolve(app.request(
      new Request(`http://dev.local${path}`, {
        method,
        headers,
        ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
      }),
      ADDR,
    ));
  };
  const login = async (username: string): Promise<Session> => {
    const r = await call("POST", "/api/auth/login", {
      body: { username, password: "password-123" },
    });
    assert.equal(r.status, 200);
    return { cookie: r.headers.get("set-cookie")!.split(";")[0]!, xsrf: (await r.json()).xsrf };
  };
  return {
    app,
    deps,
    db,
    ring,
    hub,
    call,
    login,
    async [Symbol.asyncDispose]() {
      for (const c of deps.closers?.splice(0) ?? []) c();
      deps.auth?.close();
      db.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

interface Session {
  cookie: string;
  xsrf: string;
}

Deno.test("/api/tokens: an admin creates a token shown once, lists it without its secret, revokes it", async () => {
  await using e = await env();
  const admin = await e.login("root");
  const user = await e.login("ann");
  const bad = await e.call("POST", "/api/tokens", {
    s: admin,
    body: { name: "a b", role: "user" },
  });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.fields[0].path, "name");
  const badRole = await e.call("POST", "/api/tokens", {
    s: admin,
    body: { name: "x", role: "root" },
  });
  assert.equal(badRole.status, 400);
  assert.equal((await badRole.json()).error.fields[0].path, "role");
  assert.equal(
    e.db.find("_Token", {}, { limit: 10 }).items.length,
    0,
    "nothing stored on bad input",
  );
  const created = await e.call("POST", "/api/tokens", {
    s: admin,
    body: { name: "backup", role: "user" },
  });
  assert.equal(created.status, 201);
  const { token, prefix } = await created.json();
  assert.match(token, /^tern_/);
  assert.equal(prefix, token.slice(0, 12));
  const me = await e.call("GET", "/api/auth/me", { bearer: token });
  assert.equal((await me.json()).user.username, "token:backup");
  const list = await e.call("GET", "/api/tokens", { s: admin });
  const text = await list.text();
  assert.ok(!text.includes(token) && !text.includes('"id"'), "neither the secret nor its hash");
  assert.equal(JSON.parse(text).tokens[0].name, "backup");
  const denied = await e.call("GET", "/api/tokens", { s: user });
  assert.equal(denied.status, 403);
  await denied.body?.cancel();
  const noXsrf = await e.call("DELETE", `/api/tokens/${prefix}`, { s: { ...admin, xsrf: "" } });
  assert.equal(noXsrf.status, 403, "XSRF enforced");
  await noXsrf.body?.cancel();
  const gone = await e.call("DELETE", `/api/tokens/${prefix}`, { s: admin });
  assert.equal(gone.status, 204);
  assert.equal(e.db.find("_Token", {}, { limit: 10 }).items.length, 0, "row removed");
  const after = await e.call("GET", "/api/auth/me", { bearer: token });
  assert.equal(after.status, 401);
  await after.body?.cancel();
  const again = await e.call("DELETE", `/api/tokens/${prefix}`, { s: admin });
  assert.equal(again.status, 404);
  await again.body?.cancel();
});

Deno.test("/api/config: the effective config for admins, every secret redacted", async () => {
  await using e = await env();
  const r = await e.call("GET", "/api/config", { s: await e.login("root") });
  assert.equal(r.status, 200);
  const text = await r.text();
  assert.ok(!text.includes(MQTT_PW) && !text.includes(AWS_SECRET), text);
  const { config } = JSON.parse(text);
  assert.equal(config.mqtt.password, "[redacted]");
  assert.equal(config.aws.credentials.secretAccessKey, "[redacted]");
  assert.equal(config.mqtt.url, "mqtts://broker.example:8883", "the rest as it is");
  assert.equal(config.web.sessions.cookie, "tern_session", "a cookie name is no secret");
  const user = await e.call("GET", "/api/config", { s: await e.login("ann") });
  assert.equal(user.status, 403);
  await user.body?.cancel();
});

/** Read SSE events from `res` until `want` returns true (or 5 s pass). */
async function events(
  res: Response,
  want: (seen: { event: string; data: unknown }[]) => boolean,
): Promise<{ event: string; data: unknown }[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const seen: { event: string; data: unknown }[] = [];
  let buf = "";
  const deadline = Date.now() + 5000;
  try {
    while (!want(seen) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = [...block.matchAll(/^data: (.*)$/gm)].map((m) => m[1]).join("\n");
        if (event) seen.push({ event, data: JSON.parse(data) });
      }
    }
  } finally {
    await reader.cancel();
  }
  return seen;
}

Deno.test("/api/events: status, the log ring and metric samples arrive live; topics checked by role", async () => {
  await using e = await env();
  const admin = await e.login("root");
  e.hub.logger("test").info("before-connect");
  const res = await e.call("GET", "/api/events?topics=status,logs,metrics", { s: admin });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
  setTimeout(() => {
    e.hub.logger("test").warn("after-connect", { n: 1 });
    e.deps.history!.sample();
  }, 200);
  const seen = await events(res, (s) =>
    s.some((x) => x.event === "sample") &&
    s.some((x) => x.event === "logs" && JSON.stringify(x.data).includes("after-connect")) &&
    s.filter((x) => x.event === "status").length >= 2);
  const names = seen.map((x) => x.event);
  assert.deepEqual(names.slice(0, 4), ["hello", "status", "logs", "history"]);
  const status = seen.find((x) => x.event === "status")!.data as {
    deviceId: string;
    services: unknown[];
  };
  assert.equal(status.deviceId, "dev-9");
  const first = seen.find((x) => x.event === "logs")!.data as { msg: string }[];
  assert.ok(first.some((r) => r.msg === "before-connect"), "the ring so far");
  const live = seen.filter((x) => x.event === "logs").slice(1).flatMap((x) =>
    x.data as { msg: string; fields?: unknown }[]
  );
  assert.deepEqual(live.find((r) => r.msg === "after-connect")?.fields, { n: 1 });
  assert.ok(names.filter((n) => n === "status").length >= 2, "status again after 2 s");
  const sample = seen.find((x) => x.event === "sample")!.data as unknown[];
  const history = seen.find((x) => x.event === "history")!.data as { keys: string[] };
  assert.equal(sample.length, history.keys.length + 1);
  // A "user" gets status and metrics but not the logs (an admin topic, like /api/logs).
  const ann = await e.login("ann");
  const denied = await e.call("GET", "/api/events?topics=logs", { s: ann });
  assert.equal(denied.status, 403);
  await denied.body?.cancel();
  const unknown = await e.call("GET", "/api/events?topics=status,nope", { s: ann });
  assert.equal(unknown.status, 400);
  assert.match((await unknown.json()).error.message, /Unknown topic "nope"/);
  // Disabling the user ends their open stream at the next check (every 2 s).
  const open = await e.call("GET", "/api/events?topics=status", { s: ann });
  assert.equal(open.status, 200);
  const patch = await e.call("PATCH", "/api/users/ann", { s: admin, body: { disabled: true } });
  assert.equal(patch.status, 200);
  await patch.body?.cancel();
  const t0 = Date.now();
  const text = await new Response(open.body).text();
  assert.ok(Date.now() - t0 < 4000, "the stream ended");
  assert.match(text, /event: status/);
  const anon = await e.call("GET", "/api/events");
  assert.equal(anon.status, 401);
  await anon.body?.cancel();
});

Deno.test("MetricsHistory: samples the registry, turns the request counter into a rate, keeps the span", async () => {
  const clock = new FakeClock(1_000_000);
  const registry = new MetricsRegistry();
  let requests = 0;
  registry.register(() => [
    { name: "tern_http_requests_total", help: "", type: "counter", series: [{ value: requests }] },
    {
      name: "tern_os_cpu_utilization_percent",
      help: "",
      type: "gauge",
      series: [{ labels: { cpu: "0" }, value: 90 }, { labels: { cpu: "all" }, value: 12.345 }],
    },
    {
      name: "tern_os_disk_used_percent",
      help: "",
      type: "gauge",
      series: [{ labels: { mount: "/data" }, value: 80 }, { labels: { mount: "/" }, value: 40 }],
    },
  ]);
  const h = new MetricsHistory(registry, clock, { interval: 5000, span: 15_000 });
  const k = (name: string) => h.snapshot().keys.indexOf(name) + 1;
  const got: unknown[] = [];
  const off = h.subscribe((s) => got.push(s));
  const s0 = h.sample();
  assert.equal(s0[k("cpu")], 12.35);
  assert.equal(s0[k("disk")], 40, 'the "/" mount');
  assert.equal(s0[k("requests")], null, "no rate before two samples");
  assert.equal(s0[k("temperature")], null, "absent from the registry");
  requests = 50;
  await clock.advance(5000);
  assert.equal(h.sample()[k("requests")], 10, "50 requests in 5 s");
  for (let i = 0; i < 5; i++) {
    await clock.advance(5000);
    h.sample();
  }
  assert.equal(h.snapshot().samples.length, 3, "15 s at one sample per 5 s");
  assert.equal(got.length, 7);
  off();
  h.sample();
  assert.equal(got.length, 7, "unsubscribed");
});
