/**
 * The configurations the web benchmark runs the agent with, and the state it
 * builds over HTTP the way a user does:
 *
 * - `default`: an empty config directory, i.e. the embedded default (local
 *   mode: database and web server).
 * - `device`: a data model `Reading` exposed to the REST API (read and write:
 *   role user), and a documents directory `site/` served under `/docs/` with
 *   the bench's 1 KB and 64 KB files (`web.static.documents`, relative to the
 *   config directory, so the start task's read permission on it covers them).
 * - `cloud`: `device` plus `agent.mode: "cloud"`, MQTT to a local broker, AWS
 *   credentials (static, for the emulator), sync of `Reading` both ways with
 *   a DynamoDB endpoint (dynalite), the agent's log to CloudWatch Logs and
 *   metrics (EMF, every OS group) through a local endpoint. Parts can be left
 *   out to see what each costs.
 *
 * `login()` then creates the admin with the first-run setup token the agent
 * logs (`POST /api/auth/setup`), logs in (`POST /api/auth/login`: session
 * cookie and XSRF token) and creates one item (`POST /api/data/Reading`).
 */

import { join } from "node:path";
import type { AgentProcess } from "./start_task.ts";

/** The static files' sizes, bytes, by their name under `/docs/`. */
export const FILES = { "bench-1k.bin": 1024, "bench-64k.bin": 65536 } as const;

/** What the cloud config turns on. */
export interface CloudParts {
  /** mqtt://127.0.0.1:PORT */
  mqtt?: string;
  /** DynamoDB endpoint for sync (needs `aws`). */
  sync?: string;
  /** Static AWS credentials (the aws service). */
  aws?: boolean;
  /** The sync table. @default TABLE */
  table?: string;
  /** CloudWatch Logs endpoint: the agent's own log shipped (needs `aws`). */
  logs?: string;
  /** CloudWatch metrics as EMF through the logs sender (needs `logs`). */
  metrics?: boolean;
}

const READING = {
  pk: "Device#${deviceId}",
  sk: "Reading#${time}",
  fields: {
    deviceId: { type: "string", required: true },
    time: { type: "date", required: true },
    value: { type: "number", required: true },
  },
};

/** The sync table's name in the emulator. */
export const TABLE = "tern-bench";

/**
 * The device maker's entry point the `device` agents run (relative to the root), bundled as the
 * README has it run (`buildEntry` in start_task.ts, `deno task build --entry`).
 */
export const DEVICE_ENTRY = "tests/bench/web/device.ts";
/** The device id of the configured agents (the item's partition key holds it). */
export const DEVICE = "bench-device";

/**
 * Write config directory `dir` (created) for `kind`; the static files' bytes are `bytes`
 * (the bare server sends the same; @default new random bytes). Returns `dir`.
 */
export function writeConfig(
  dir: string,
  kind: "default" | "device" | "cloud",
  bytes: Record<keyof typeof FILES, Uint8Array> = fileBytes(),
  parts: CloudParts = {},
): string {
  Deno.mkdirSync(dir, { recursive: true });
  if (kind === "default") return dir;
  const cloud = kind === "cloud";
  const config: Record<string, unknown> = {
    device: { id: DEVICE },
    web: {
      static: { documents: "site" },
      api: { models: { Reading: { read: "user", write: "user" } } },
    },
  };
  if (cloud) {
    config.agent = { mode: "cloud" };
    if (parts.mqtt) config.mqtt = { enabled: true, url: parts.mqtt };
    if (parts.aws) {
      config.aws = {
        region: "us-east-1",
        credentials: {
          accessKeyId: "AKIDBENCHBENCHBENCH",
          secretAccessKey: "bench-secret-key-0000",
        },
      };
    }
    if (parts.sync) {
      config.sync = { enabled: true, endpoint: parts.sync, table: parts.table ?? TABLE };
    }
    if (parts.logs) {
      config.cloud = {
        logs: { enabled: true, endpoint: parts.logs, agent: { enabled: true } },
        ...(parts.metrics ? { metrics: { enabled: true, via: "emf" } } : {}),
      };
    }
  }
  Deno.writeTextFileSync(join(dir, "tern.json5"), JSON.stringify(config, null, 2));
  const model = cloud && parts.sync ? { ...READING, sync: "both" } : READING;
  Deno.writeTextFileSync(
    join(dir, "schema.json5"),
    JSON.stringify({ models: { Reading: model } }, null, 2),
  );
  Deno.mkdirSync(join(dir, "site"), { recursive: true });
  for (const [name, b] of Object.entries(bytes)) Deno.writeFileSync(join(dir, "site", name), b);
  return dir;
}

/** The random bytes of the static files. */
export function fileBytes(): Record<keyof typeof FILES, Uint8Array<ArrayBuffer>> {
  const out = {} as Record<keyof typeof FILES, Uint8Array<ArrayBuffer>>;
  for (const [name, n] of Object.entries(FILES) as [keyof typeof FILES, number][]) {
    out[name] = crypto.getRandomValues(new Uint8Array(n));
  }
  return out;
}

/** A logged-in session and the item it reads and writes. */
export interface Session {
  /** `tern_session=…` */
  cookie: string;
  xsrf: string;
  /** The item's `_key` (for `/api/data/Reading/KEY`). */
  key: string;
}

const PASSWORD = "bench-password-1";

async function call(
  url: string,
  init: RequestInit & { expect: number },
): Promise<Response> {
  const res = await fetch(url, init);
  if (res.status !== init.expect) {
    throw new Error(`${init.method ?? "GET"} ${url}: ${res.status} ${await res.text()}`);
  }
  return res;
}

/** Create the admin with the logged setup token and log in over HTTP (any config). */
export async function adminSession(agent: AgentProcess): Promise<Omit<Session, "key">> {
  const { line } = await agent.until(/First run: no users yet/);
  const token = /"token":"([^"]+)"/.exec(JSON.parse(line).msg)?.[1];
  if (!token) throw new Error(`No setup token in: ${line}`);
  const json = { "content-type": "application/json" };
  await (await call(`${agent.url}/api/auth/setup`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({ token, username: "admin", password: PASSWORD }),
    expect: 201,
  })).body?.cancel();
  const res = await call(`${agent.url}/api/auth/login`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({ username: "admin", password: PASSWORD }),
    expect: 200,
  });
  const { xsrf } = await res.json();
  const cookie = res.headers.get("set-cookie")!.split(";")[0]!;
  return { cookie, xsrf };
}

/** Create the admin with the logged setup token, log in over HTTP, create one item. */
export async function login(agent: AgentProcess): Promise<Session> {
  const { cookie, xsrf } = await adminSession(agent);
  return { cookie, xsrf, key: await createReading(agent.url, { cookie, xsrf }) };
}

/** Create the bench's one `Reading` item (the same keys each time); its `_key`. */
export async function createReading(
  url: string,
  session: Omit<Session, "key">,
): Promise<string> {
  const created = await call(`${url}/api/data/Reading`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      cookie: session.cookie,
      "x-xsrf-token": session.xsrf,
    },
    body: JSON.stringify({ deviceId: DEVICE, time: "2026-01-01T00:00:00Z", value: 21.5 }),
    expect: 201,
  });
  const { item } = await created.json();
  return item._key;
}
