/**
 * A local CloudTrail Data endpoint for tests: PutAuditEvents behind the
 * SigV4-verifying endpoint (signing name "cloudtrail-data"), each request
 * validated against the official service model — botocore's
 * `cloudtrail-data/2021-08-11/service-2.json(.gz)` on this machine, read at
 * start, so the rules are AWS's and not ours: HTTP method and path, the
 * `channelArn` query member and its pattern, every structure's required
 * and unknown members, list and string lengths, the `Uuid` id pattern — plus
 * the documented limits the model does not state: at most 1 MB per request,
 * `eventDataChecksum` the base64 SHA-256 of `eventData`, and `eventData`
 * JSON with the required fields of the CloudTrail Lake event schema.
 *
 * Like CloudTrail, it keeps every accepted event by id and answers a second
 * event with the same id with a `failed` entry `DuplicatedAuditEventId`.
 * A request that breaks the model gets a 400 `ValidationException`, which
 * the test also counts (`invalid`), so a test asserts there were none.
 *
 * ```ts
 * await using ct = await startCloudTrailData();    // ct.url for audit.cloudtrail.endpoint
 * ct.events  // Map id → { eventData (parsed), checksum, count of accepts (always 1) }
 * ```
 */

import { MOTO_KEYS, MOTO_REGION } from "./moto.ts";
import { type AwsServer, startAwsServer, type VerifiedRequest } from "./aws_sigv4_server.ts";

type Shape = {
  type: string;
  required?: string[];
  members?: Record<string, { shape: string; location?: string; locationName?: string }>;
  member?: { shape: string };
  min?: number;
  max?: number;
  pattern?: string;
};

interface Model {
  metadata: Record<string, string>;
  operations: Record<
    string,
    { http: { method: string; requestUri: string }; input: { shape: string } }
  >;
  shapes: Record<string, Shape>;
}

/** The botocore model of CloudTrail Data on this machine. */
export async function loadModel(): Promise<Model> {
  const out = await new Deno.Command("python3", {
    args: ["-c", "import botocore,os;print(os.path.dirname(botocore.__file__))"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const dir = `${new TextDecoder().decode(out.stdout).trim()}/data/cloudtrail-data/2021-08-11`;
  try {
    return JSON.parse(await Deno.readTextFile(`${dir}/service-2.json`));
  } catch {
    const gz = await Deno.readFile(`${dir}/service-2.json.gz`);
    const text = await new Response(
      new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip")),
    ).text();
    return JSON.parse(text);
  }
}

/** Problems of `value` against `shape` (empty when it conforms). */
export function validate(model: Model, shapeName: string, value: unknown, path: string): string[] {
  const s = model.shapes[shapeName]!;
  const out: string[] = [];
  switch (s.type) {
    case "structure": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        return [`${path}: expected an object`];
      }
      const v = value as Record<string, unknown>;
      for (const r of s.required ?? []) {
        if (v[r] === undefined && !s.members?.[r]?.location) out.push(`${path}.${r}: required`);
      }
      for (const [k, x] of Object.entries(v)) {
        const m = s.members?.[k];
        if (!m || m.location) out.push(`${path}.${k}: not a member of ${shapeName}`);
        else out.push(...validate(model, m.shape, x, `${path}.${k}`));
      }
      break;
    }
    case "list": {
      if (!Array.isArray(value)) return [`${path}: expected a list`];
      if (s.min !== undefined && value.length < s.min) out.push(`${path}: fewer than ${s.min}`);
      if (s.max !== undefined && value.length > s.max) out.push(`${path}: more than ${s.max}`);
      value.forEach((x, i) => out.push(...validate(model, s.member!.shape, x, `${path}[${i}]`)));
      break;
    }
    case "string": {
      if (typeof value !== "string") return [`${path}: expected a string`];
      if (s.min !== undefined && value.length < s.min) out.push(`${path}: shorter than ${s.min}`);
      if (s.max !== undefined && value.length > s.max) out.push(`${path}: longer than ${s.max}`);
      if (s.pattern && !new RegExp(s.pattern).test(value)) {
        out.push(`${path}: does not match ${s.pattern}`);
      }
      break;
    }
    default:
      out.push(`${path}: shape type ${s.type} not handled by the test endpoint`);
  }
  return out;
}

/** Fields the CloudTrail Lake event schema requires in `eventData`. */
const EVENT_DATA_REQUIRED = [
  "version",
  "userIdentity",
  "eventSource",
  "eventName",
  "eventTime",
  "UID",
];

/** Problems of one PutAuditEvents request (method, path, query, headers, body). */
export async function checkRequest(model: Model, req: VerifiedRequest): Promise<string[]> {
  const op = model.operations.PutAuditEvents!;
  const problems: string[] = [];
  if (req.method !== op.http.method) problems.push(`method ${req.method}`);
  if (req.url.pathname !== op.http.requestUri) problems.push(`path ${req.url.pathname}`);
  if (!/^application\/json/.test(req.headers.get("content-type") ?? "")) {
    problems.push(`content-type ${req.headers.get("content-type")}`);
  }
  if (req.headers.get("x-amz-target")) problems.push("x-amz-target on a REST-JSON call");
  if (req.body.length > 1_048_576) problems.push(`body of ${req.body.length} bytes > 1 MB`);
  const input = model.shapes[op.input.shape]!;
  // Query members.
  for (const [name, m] of Object.entries(input.members ?? {})) {
    if (m.location !== "querystring") continue;
    const v = req.url.searchParams.get(m.locationName ?? name);
    if (v === null) {
      if (input.required?.includes(name)) problems.push(`query ${m.locationName}: required`);
    } else problems.push(...validate(model, m.shape, v, `query.${m.locationName}`));
  }
  for (const k of req.url.searchParams.keys()) {
    if (!Object.values(input.members ?? {}).some((m) => m.locationName === k)) {
      problems.push(`query ${k}: not a member`);
    }
  }
  const body = req.json as Record<string, unknown> | undefined;
  if (!body) return [...problems, "body is not JSON"];
  problems.push(...validate(model, op.input.shape, body, "body"));
  for (const [i, e] of ((body.auditEvents ?? []) as Record<string, string>[]).entries()) {
    if (typeof e.eventData !== "string") continue;
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode(e.eventData)),
    );
    if (e.eventDataChecksum !== undefined && e.eventDataChecksum !== digest.toBase64()) {
      problems.push(`auditEvents[${i}].eventDataChecksum: not the base64 SHA-256 of eventData`);
    }
    try {
      const d = JSON.parse(e.eventData);
      for (const f of EVENT_DATA_REQUIRED) {
        if (d[f] === undefined) problems.push(`auditEvents[${i}].eventData.${f}: required`);
      }
      if (d.UID !== e.id) problems.push(`auditEvents[${i}]: UID differs from id`);
      if (
        typeof d.userIdentity?.type !== "string" || typeof d.userIdentity?.principalId !== "string"
      ) {
        problems.push(`auditEvents[${i}].eventData.userIdentity: type and principalId`);
      }
      if (Number.isNaN(Date.parse(d.eventTime))) problems.push(`auditEvents[${i}].eventTime`);
    } catch {
      problems.push(`auditEvents[${i}].eventData: not JSON`);
    }
  }
  return problems;
}

/** What the endpoint stored of one event. */
export interface StoredEvent {
  eventData: Record<string, unknown>;
  channelArn: string;
}

export interface CloudTrailData extends AsyncDisposable {
  url: string;
  server: AwsServer;
  /** Accepted events by id (each accepted once; a resend is a DuplicatedAuditEventId). */
  events: Map<string, StoredEvent>;
  /** Ids answered with DuplicatedAuditEventId. */
  duplicates: string[];
  /** Requests that broke the model or the limits, with their problems. */
  invalid: string[][];
  /** Answer with this instead (outages, per-event failures); undefined: normal. */
  fault: ((req: VerifiedRequest) => Response | undefined) | undefined;
  /** Per-event error code to answer instead of accepting (undefined: accept). */
  eventFault: ((id: string) => string | undefined) | undefined;
}

/** Start the endpoint on 127.0.0.1 (test keys of moto.ts). */
export async function startCloudTrailData(): Promise<CloudTrailData> {
  const model = await loadModel();
  const events = new Map<string, StoredEvent>();
  const ct: Omit<CloudTrailData, "url" | "server" | typeof Symbol.asyncDispose> = {
    events,
    duplicates: [],
    invalid: [],
    fault: undefined,
    eventFault: undefined,
  };
  const server = await startAwsServer({
    keys: MOTO_KEYS,
    region: MOTO_REGION,
    service: "cloudtrail-data",
    handler: async (req) => {
      const problems = await checkRequest(model, req);
      if (problems.length) {
        ct.invalid.push(problems);
        return Response.json({ message: problems.join("; ") }, {
          status: 400,
          headers: { "x-amzn-errortype": "ValidationException" },
        });
      }
      const own = ct.fault?.(req);
      if (own) return own;
      const channelArn = req.url.searchParams.get("channelArn")!;
      const successful: { id: string; eventID: string }[] = [];
      const failed: { id: string; errorCode: string; errorMessage: string }[] = [];
      for (
        const e of (req.json as { auditEvents: { id: string; eventData: string }[] }).auditEvents
      ) {
        const code = ct.eventFault?.(e.id);
        if (code) failed.push({ id: e.id, errorCode: code, errorMessage: `test: ${code}` });
        else if (events.has(e.id)) {
          ct.duplicates.push(e.id);
          failed.push({
            id: e.id,
            errorCode: "DuplicatedAuditEventId",
            errorMessage: "An event with this id was already ingested",
          });
        } else {
          events.set(e.id, { eventData: JSON.parse(e.eventData), channelArn });
          successful.push({ id: e.id, eventID: crypto.randomUUID() });
        }
      }
      return Response.json({ successful, failed });
    },
  });
  return Object.assign(ct, {
    url: server.url,
    server,
    [Symbol.asyncDispose]: () => server[Symbol.asyncDispose](),
  }) as CloudTrailData;
}
