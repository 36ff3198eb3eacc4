/**
 * The shipped API under hostile input: the agent started as the start task
 * starts it (its flags and permissions), with a user, a data model and a
 * documents directory, gets 1,500 random requests (seeded: the seed is in
 * the failure message) over every route: wrong methods, bad and hostile
 * JSON (deep nesting, NUL, `__proto__`, huge numbers), wrong content types,
 * bad keys and escapes, bad cookies and XSRF tokens, odd Range, If-Match and
 * Accept-Encoding headers.
 *
 * Each answer must be a clear one: no 5xx but a documented 503 for a feature
 * that is off, and every error under /api/ a JSON body with an `error.code`.
 * A write that is refused changes nothing (the model's items, the users and
 * the tokens are read before and after it). Afterwards the agent still
 * answers, logged no error, and its database passes `integrity_check`.
 *
 * The same again with shadows, S3 uploads and application metrics on and the
 * cloud unreachable (their routes must answer, not report the feature off).
 *
 * `TERN_FUZZ_SEED=N` replays a run; `TERN_FUZZ_REQUESTS=N` sends N requests.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { freePort } from "./helpers/process.ts";
import { seeded } from "./helpers/seeded.ts";
import { BUNDLE_DIR, spawnAgent } from "./bench/web/start_task.ts";
import { createReading, DEVICE, login, writeConfig } from "./bench/web/configs.ts";
import { derivedPermissions } from "./bench/web/memory.ts";

const REQUESTS = Number(Deno.env.get("TERN_FUZZ_REQUESTS") ?? 1_500);

const FIELDS = [
  "username",
  "password",
  "role",
  "value",
  "time",
  "deviceId",
  "name",
  "desired",
  "reported",
  "state",
  "_key",
  "_version",
  "limit",
  "next",
  "label",
  "expires",
  "path",
  "message",
  "__proto__",
  "constructor",
  "",
];
const STRINGS = [
  "",
  "x",
  "admin",
  "user",
  "viewer",
  "2026-01-01T00:00:00Z",
  "not-a-date",
  "a".repeat(5000),
  "\u0000",
  "😀",
  "../../etc/passwd",
  "%00",
  "<script>",
  "Device#x",
  "bench-device",
];
const NUMBERS = [0, -1, 1e308, -1e308, 1.5, 2 ** 53 + 1, 21.5, 1e21, -0];

/** `o[key] = value` as data, `__proto__` included (an assignment would set the prototype). */
function setKey(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, configurable: true, writable: true });
}

/** What a run's agent has on: the device config, or that with every cloud feature on, offline. */
type Kind = "local" | "cloud offline";

/** One run in `dir` (removed by the caller). */
async function hostileRun(kind: Kind, dir: string): Promise<void> {
  const { seed, rnd, pick } = seeded();
  const value = (depth = 0): unknown => {
    const r = rnd();
    if (r < 0.1) return null;
    if (r < 0.2) return rnd() < 0.5;
    if (r < 0.35) return pick(NUMBERS);
    if (r < 0.55 || depth >= 3) return pick(STRINGS);
    if (r < 0.7) return Array.from({ length: Math.floor(rnd() * 4) }, () => value(depth + 1));
    const o: Record<string, unknown> = {};
    for (let i = Math.floor(rnd() * 5); i > 0; i--) setKey(o, pick(FIELDS), value(depth + 1));
    return o;
  };

  const configDir = writeConfig(join(dir, "config"), "device");
  // Users created by the run hash their passwords with the fewest iterations allowed.
  const file = join(configDir, "tern.json5");
  const config = JSON.parse(Deno.readTextFileSync(file));
  config.web.auth = { iterations: 10_000 };
  const cloud = kind === "cloud offline";
  if (cloud) Object.assign(config, offlineCloud(join(dir, "files")));
  Deno.writeTextFileSync(file, JSON.stringify(config));
  const stateDir = join(dir, "state");
  const port = freePort();
  await using agent = spawnAgent({
    configDir,
    stateDir,
    port,
    // Cloud mode reaches further than the start task's permissions: the documented way.
    ...(cloud
      ? { permissions: await derivedPermissions(configDir, stateDir, port, BUNDLE_DIR) }
      : {}),
  });
  await agent.until(/"Agent started"/);
  const session = await login(agent);
  const u = agent.url;
  const segment = () =>
    pick([
      "Reading",
      session.key,
      "admin",
      "nobody",
      "%zz",
      "%00",
      "..",
      "%2e%2e",
      "a".repeat(300),
      "_users",
      "_sessions",
      "-1",
      encodeURIComponent("Device#x~Reading#y"),
    ]);
  // Write routes with the methods they have, so most requests reach a handler (the features
  // that are off weigh less).
  const writes = (): [string, string] =>
    pick<[string, string]>([
      ["POST", "/api/auth/setup"],
      ["POST", "/api/auth/login"],
      ["POST", "/api/users"],
      ["POST", "/api/users"],
      [pick(["PATCH", "DELETE"]), `/api/users/${segment()}`],
      ["POST", `/api/data/${segment()}`],
      ["POST", "/api/data/Reading"],
      ["POST", "/api/data/Reading"],
      [pick(["PATCH", "DELETE"]), `/api/data/Reading/${segment()}`],
      [pick(["PATCH", "PATCH", "DELETE"]), `/api/data/Reading/${session.key}`],
      ["PATCH", `/api/data/Reading/${session.key}`],
      ["POST", "/api/tokens"],
      ["POST", "/api/tokens"],
      ["DELETE", `/api/tokens/${segment()}`],
      [
        pick(["PATCH", "POST", "DELETE"]),
        pick([
          `/api/shadow/${segment()}`,
          "/api/metrics",
          "/api/uploads",
          `/api/uploads/${segment()}`,
          "/api/audit",
          "/api/provision/identity",
        ]),
      ],
      // With the cloud features on, their own routes with their own methods too.
      ...(cloud
        ? [
          ["POST", "/api/uploads"],
          ["POST", "/api/uploads"],
          ["PATCH", "/api/shadow/thermostat"],
          ["POST", "/api/metrics"],
        ] as [string, string][]
        : []),
    ]);
  const reads = () =>
    pick([
      "/api/auth/me",
      "/api/auth/setup",
      "/api/users",
      `/api/users/${segment()}`,
      "/api/data",
      `/api/data/${segment()}`,
      `/api/data/${segment()}/${segment()}`,
      `/api/data/Reading?${
        pick([
          "limit=0",
          "limit=5",
          "limit=abc",
          "value=1",
          "nope=1",
          "next=%%%",
          "next=abc",
          "reverse=1",
          "time=x",
          "deviceId=bench-device",
        ])
      }`,
      "/api/status",
      "/api/health",
      "/api/logs",
      "/api/shadow",
      `/api/shadow/${segment()}`,
      "/api/audit",
      "/api/audit/verify",
      "/api/uploads",
      `/api/uploads/${segment()}`,
      "/api/tokens",
      "/api/config",
      "/api/provision",
      "/metrics",
      "/docs/bench-1k.bin",
      `/docs/${segment()}`,
      "/",
      `/${segment()}`,
    ]);
  // A body the route would take, often with one field made hostile: these reach the checks
  // deepest in a handler (If-Match, duplicates, roles), where a refusal after a write would show.
  const nearlyValid = (path: string): Record<string, unknown> | undefined => {
    const n = Math.floor(rnd() * 1e6);
    const role = pick(["admin", "user", "viewer", "root"]);
    let b: Record<string, unknown> | undefined;
    if (path === "/api/data/Reading") {
      b = { deviceId: DEVICE, time: new Date(n * 1000).toISOString(), value: n / 10 };
    } else if (path.startsWith("/api/data/Reading/")) b = { value: n / 10 };
    else if (path === "/api/users") {
      b = { username: `u${n % 50}`, password: "password-123456", role };
    } else if (path.startsWith("/api/users/")) {
      b = rnd() < 0.5 ? { role } : { password: "pw-654321" };
    } else if (path === "/api/tokens") b = { name: `t${n % 50}`, role };
    else if (path === "/api/auth/login") b = { username: "admin", password: `guess-${n}` };
    else if (path.startsWith("/api/shadow/")) {
      b = { reported: { temp: n / 10, mode: pick(["on", "off"]) }, desired: { temp: n % 30 } };
    } else if (path === "/api/uploads") {
      b = rnd() < 0.5
        ? { data: `reading ${n}`, key: `fuzz/${n}.txt` }
        : { file: join(dir, "files", pick(["a.txt", "missing.txt", "../../etc/passwd"])) };
    } else if (path === "/api/metrics") {
      b = { metrics: [{ name: pick(["temp", "", "x".repeat(300)]), value: n / 10, unit: "None" }] };
    }
    if (b && rnd() < 0.5) setKey(b, pick([...Object.keys(b), ...FIELDS]), value(1));
    return b;
  };
  const get = async (path: string) => {
    const r = await fetch(u + path, { headers: { cookie: session.cookie } });
    return `${r.status} ${await r.text()}`;
  };
  // What a refused write must leave as it was (the item's own answer, the list, users, tokens).
  const snapshot = async () =>
    [
      await get(`/api/data/Reading/${session.key}`),
      await get("/api/data/Reading"),
      await get("/api/users"),
      await get("/api/tokens"),
      ...(cloud ? [shadowDocument(await get("/api/shadow/thermostat"))] : []),
    ].join("\n");

  const problems: string[] = [];
  const statuses = new Map<number, number>();
  for (let i = 0; i < REQUESTS && problems.length < 10; i++) {
    const r = rnd();
    // Mostly the route's own method; sometimes one it does not have.
    const [method, path] = r < 0.08
      ? [pick(["PUT", "OPTIONS", "POST", "DELETE"]), reads()]
      : r < 0.45
      ? [pick(["GET", "GET", "GET", "HEAD"]), reads()]
      : writes();
    const headers: Record<string, string> = {};
    if (rnd() < 0.9) {
      headers.cookie = rnd() < 0.9
        ? session.cookie
        : pick(["tern_session=", "tern_session=abc", `x=y; tern_session=${"a".repeat(200)}`]);
    }
    if (rnd() < 0.85) headers["x-xsrf-token"] = rnd() < 0.9 ? session.xsrf : "nope";
    if (rnd() < (path.startsWith("/api/data/") ? 0.4 : 0.1)) {
      headers["if-match"] = pick(['"1"', "0", "abc", '"99"', "-5"]);
    }
    if (rnd() < 0.1) {
      headers.range = pick([
        "bytes=0-10",
        "bytes=5-",
        "bytes=-3",
        "bytes=99999-",
        "bytes=a-b",
        "bytes=0-1,3-4",
      ]);
    }
    if (rnd() < 0.1) headers["accept-encoding"] = pick(["br", "gzip", "*", "identity;q=0"]);
    let body: string | undefined;
    if (method !== "GET" && method !== "HEAD" && rnd() < 0.9) {
      const near = rnd() < 0.5 ? nearlyValid(path) : undefined;
      body = near ? JSON.stringify(near) : rnd() < 0.8 ? JSON.stringify(value()) : pick([
        "{bad",
        "",
        "null",
        "[]",
        "\u0000",
        `{"a":${"[".repeat(5000)}`,
      ]);
      headers["content-type"] = rnd() < 0.9 ? "application/json" : pick([
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin1",
      ]);
    }
    // Never log out or change the admin: the run would lose the session it reads state with.
    if (path === "/api/auth/logout" || (path.startsWith("/api/users/admin") && method !== "GET")) {
      continue;
    }
    const write = method === "POST" || method === "PATCH" || method === "DELETE";
    const before = write ? await snapshot() : "";
    const what = `${method} ${path} ${JSON.stringify(headers)} ${(body ?? "").slice(0, 120)}`;
    let res: Response;
    try {
      res = await fetch(u + path, { method, headers, body, signal: AbortSignal.timeout(5_000) });
    } catch (e) {
      problems.push(`${what}: no answer (${e})`);
      break;
    }
    const text = await res.text();
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    const off = res.status === 503 && (method === "HEAD" || /"code":"\w+_off"/.test(text));
    if (off && cloud && method !== "HEAD" && !path.startsWith("/api/provision")) {
      problems.push(`${what}: a feature the config turns on answered ${text.slice(0, 200)}`);
    }
    if (res.status >= 500 && !off) problems.push(`${what} → ${res.status} ${text.slice(0, 300)}`);
    const api = path.startsWith("/api/");
    if (api && res.status >= 400 && method !== "HEAD") {
      let code: unknown;
      try {
        code = JSON.parse(text).error?.code;
      } catch { /* not JSON */ }
      if (typeof code !== "string" || !res.headers.get("content-type")?.includes("json")) {
        problems.push(`${what} → ${res.status} without a JSON error: ${text.slice(0, 200)}`);
      }
    }
    if (write && res.status >= 400) {
      const after = await snapshot();
      if (after !== before) problems.push(`${what} → ${res.status} changed the state`);
    }
    if (method === "DELETE" && res.status === 204 && path.endsWith(session.key)) {
      // The tracked item was deleted as asked: create it again (same keys, so the same `_key`).
      assert.equal(await createReading(u, session), session.key);
    }
  }
  const counts = JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])));
  assert.deepEqual(problems, [], `seed ${seed} (TERN_FUZZ_SEED), statuses ${counts}`);
  // The run reached the handlers: answers of every kind, not just refusals at the door.
  // (202: an upload queued, which only the cloud run can do)
  for (const s of [200, 201, 204, 400, 401, 403, 404, ...(cloud ? [202] : [])]) {
    assert.ok(statuses.has(s), `seed ${seed}: no ${s} among ${counts}`);
  }
  assert.equal(await fetch(`${u}/api/health`).then((r) => r.text().then(() => r.status)), 200);
  const errors = agent.log().split("\n").filter((l) => /"level":"(error|fatal)"/.test(l));
  assert.deepEqual(errors, [], `seed ${seed}: the agent logged errors`);
  assert.equal(await agent.stop(), 0, "the agent stops cleanly");
  const db = new DatabaseSync(join(stateDir, "tern.db"), { readOnly: true });
  try {
    assert.equal(db.prepare("PRAGMA integrity_check").get()?.integrity_check, "ok");
  } finally {
    db.close();
  }
}

/**
 * Every cloud feature with an API route on, and no cloud to reach (port 9 refuses): MQTT,
 * shadows, S3 uploads and application metrics queue their work, as on a device offline.
 */
function offlineCloud(files: string): Record<string, unknown> {
  Deno.mkdirSync(files, { recursive: true });
  Deno.writeTextFileSync(join(files, "a.txt"), "hello");
  const offline = "http://127.0.0.1:9";
  return {
    agent: { mode: "cloud" },
    device: { id: DEVICE },
    mqtt: { enabled: true, url: "mqtt://127.0.0.1:9" },
    aws: {
      region: "us-east-1",
      credentials: { accessKeyId: "AKIDFUZZFUZZFUZZ", secretAccessKey: "fuzz-secret-key-0000" },
    },
    cloud: {
      shadow: { enabled: true, shadows: { thermostat: {} } },
      s3: { enabled: true, endpoint: offline, bucket: "fuzz", directories: [files] },
      metrics: { enabled: true, via: "putMetricData", endpoint: offline },
    },
  };
}

/** A shadow's answer without its link status (which an offline agent's retries change). */
function shadowDocument(answer: string): string {
  const [status, ...rest] = answer.split(" ");
  try {
    const { status: _, ...doc } = JSON.parse(rest.join(" "));
    return `${status} ${JSON.stringify(doc)}`;
  } catch {
    return answer;
  }
}

async function inTempDir(kind: Kind): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tern_hostile_" });
  try {
    await hostileRun(kind, dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test("the shipped API answers 1,500 random hostile requests clearly and refused writes change nothing", async () => {
  await inTempDir("local");
});

Deno.test("with shadows, S3 uploads and metrics on and the cloud unreachable, the same holds", async () => {
  await inTempDir("cloud offline");
});
