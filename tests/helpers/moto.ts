/**
 * moto (Python moto 5, preinstalled on these machines) as the AWS peer for
 * CloudWatch Logs: `startMoto()` runs `python3 -m moto.server -H 127.0.0.1
 * -p PORT` (one per test file, stopped on dispose), and `startLogsEndpoint()`
 * puts the SigV4-verifying test endpoint in front of it (moto accepts any
 * signature), so every request the agent makes is checked for its signature
 * and then answered by moto. Reads for assertions go straight to moto.
 *
 * ```ts
 * await using moto = await startMoto();
 * await using logs = await startLogsEndpoint(moto);   // logs.url for the agent's config
 * const events = await getLogEvents(moto, "/tern/d1", "d1/agent");
 * ```
 */

import { freePort } from "../../deploy/free_port.ts";
import { AwsJsonClient, type AwsJsonClientOptions, staticCredentials } from "../../lib/aws/mod.ts";
import { type Config, configSchema } from "../../lib/config/mod.ts";
import { type AwsServer, startAwsServer, type VerifiedRequest } from "./aws_sigv4_server.ts";

export const MOTO_REGION = "eu-west-1";
export const MOTO_KEYS = { AKIDTERNLOGS0001: "tern-logs-test-secret-0001" };
export const MOTO_CREDENTIALS = {
  accessKeyId: "AKIDTERNLOGS0001",
  secretAccessKey: "tern-logs-test-secret-0001",
};

export interface Moto extends AsyncDisposable {
  url: string;
  /** Call a CloudWatch Logs operation on moto directly (for assertions). */
  logs<T = Record<string, unknown>>(operation: string, input: unknown): Promise<T>;
}

/** Start moto on a free loopback port; resolves once it answers. */
export async function startMoto(): Promise<Moto> {
  const port = freePort();
  const child = new Deno.Command("python3", {
    args: ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const url = `http://127.0.0.1:${port}`;
  const end = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(`${url}/moto-api/`);
      await r.body?.cancel();
      break;
    } catch {
      if (Date.now() > end) {
        child.kill("SIGKILL");
        await child.status;
        throw new Error(`moto did not start on ${url}: ${await stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const logs = async <T>(operation: string, input: unknown): Promise<T> => {
    const r = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/x-amz-json-1.1",
        "x-amz-target": `Logs_20140328.${operation}`,
        authorization:
          `AWS4-HMAC-SHA256 Credential=AKIDTERNLOGS0001/20260101/${MOTO_REGION}/logs/aws4_request, SignedHeaders=host, Signature=0`,
      },
      body: JSON.stringify(input),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`moto ${operation}: ${r.status} ${text}`);
    return JSON.parse(text || "{}") as T;
  };
  return {
    url,
    logs,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
      await stderr;
    },
  };
}

/** The HTTP status each request through a logs endpoint was answered with. */
export const answered = new WeakMap<VerifiedRequest, number>();

/** Options of {@linkcode startLogsEndpoint}. */
export interface LogsEndpointOptions {
  /** Answer instead of moto when this returns a Response (faults, limit checks). */
  intercept?: (req: VerifiedRequest) => Response | undefined | Promise<Response | undefined>;
}

/** The SigV4-verifying endpoint in front of `moto`, for the agent's `cloud.logs.endpoint`. */
export function startLogsEndpoint(
  moto: Moto,
  options: LogsEndpointOptions = {},
): Promise<AwsServer> {
  return startAwsServer({
    keys: MOTO_KEYS,
    region: MOTO_REGION,
    service: "logs",
    handler: async (req) => {
      const own = await options.intercept?.(req);
      if (own) {
        answered.set(req, own.status);
        return own;
      }
      const headers = new Headers();
      for (const h of ["content-type", "x-amz-target", "authorization", "x-amz-date"]) {
        const v = req.headers.get(h);
        if (v !== null) headers.set(h, v);
      }
      const r = await fetch(`${moto.url}${req.url.pathname}`, {
        method: req.method,
        headers,
        body: req.body.length ? new Uint8Array(req.body) as Uint8Array<ArrayBuffer> : null,
      });
      answered.set(req, r.status);
      return new Response(await r.arrayBuffer(), {
        status: r.status,
        headers: { "content-type": r.headers.get("content-type") ?? "application/json" },
      });
    },
  });
}

/** Every event of one log stream, oldest first (GetLogEvents, all pages). */
export async function getLogEvents(
  moto: Moto,
  group: string,
  stream: string,
): Promise<{ timestamp: number; message: string }[]> {
  const out: { timestamp: number; message: string }[] = [];
  let token: string | undefined;
  for (;;) {
    const r = await moto.logs<{
      events: { timestamp: number; message: string }[];
      nextForwardToken?: string;
    }>("GetLogEvents", {
      logGroupName: group,
      logStreamName: stream,
      startFromHead: true,
      ...(token ? { nextToken: token } : {}),
    });
    out.push(...r.events.map((e) => ({ timestamp: e.timestamp, message: e.message })));
    if (!r.events.length || !r.nextForwardToken || r.nextForwardToken === token) return out;
    token = r.nextForwardToken;
  }
}

/** Every event of a group across its streams (FilterLogEvents, all pages). */
export async function filterLogEvents(
  moto: Moto,
  group: string,
): Promise<{ logStreamName: string; timestamp: number; message: string }[]> {
  const out: { logStreamName: string; timestamp: number; message: string }[] = [];
  let token: string | undefined;
  for (;;) {
    const r = await moto.logs<{
      events: { logStreamName: string; timestamp: number; message: string }[];
      nextToken?: string;
    }>("FilterLogEvents", { logGroupName: group, ...(token ? { nextToken: token } : {}) });
    out.push(...r.events);
    if (!r.nextToken) return out;
    token = r.nextToken;
  }
}

/** A CloudWatch Logs client of our own (lib/aws) for `endpoint`, with the test keys, no retries. */
export function logsClient(
  endpoint: string,
  extra: Partial<AwsJsonClientOptions> = {},
): AwsJsonClient {
  return new AwsJsonClient({
    service: "logs",
    region: MOTO_REGION,
    targetPrefix: "Logs_20140328",
    endpoint,
    credentials: staticCredentials(MOTO_CREDENTIALS),
    retries: 0,
    ...extra,
  });
}

/** A cloud-mode config (device "d1", the test keys) with `cloud.logs` on at `endpoint`. */
export function cloudLogsConfig(endpoint: string, logs: Record<string, unknown>): Config {
  return configSchema.parse({
    agent: { mode: "cloud" },
    device: { id: "d1" },
    aws: { region: MOTO_REGION, credentials: MOTO_CREDENTIALS },
    cloud: { logs: { enabled: true, endpoint, ...logs } },
  });
}
