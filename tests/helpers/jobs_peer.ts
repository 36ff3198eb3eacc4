/**
 * The AWS IoT Jobs service for the tests: an MQTT responder on the test
 * broker that follows AWS's documented device API
 * (https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html):
 *
 * - `$aws/things/T/jobs/start-next` → `start-next/accepted` with
 *   `{ execution?, timestamp, clientToken }` (the oldest QUEUED or
 *   IN_PROGRESS execution becomes IN_PROGRESS; versionNumber + 1)
 * - `$aws/things/T/jobs/JOBID/get` (`$next` too) → `get/accepted`
 *   `{ execution, timestamp, clientToken }` or `get/rejected` ResourceNotFound
 * - `$aws/things/T/jobs/JOBID/update` → `update/accepted`
 *   `{ executionState: { status, statusDetails, versionNumber }, timestamp, clientToken }`;
 *   rejected with `VersionMismatch` (with `executionState`) when
 *   `expectedVersion` differs, `TerminalStateReached` on a CANCELED /
 *   REMOVED / TIMED_OUT execution, `InvalidStateTransition` on a
 *   SUCCEEDED / FAILED / REJECTED one, `InvalidRequest` for statusDetails
 *   outside AWS's rules or a clientToken over 64 characters,
 *   `RequestThrottled` while `throttle` > 0, `VersionMismatch` for the next
 *   `mismatch` updates (the execution changed by another writer)
 * - `notify-next` `{ timestamp, execution? }` whenever a thing's next
 *   pending execution changes (job created, canceled, an execution ended)
 *
 * A job document's `${aws:iot:s3-presigned-url:URL}` is replaced, like AWS
 * does, by a presigned GET URL (our SigV4 presigner, for s3rver), fresh at
 * every start-next and get.
 */

import mqtt from "mqtt";
import { presignUrl } from "../../lib/aws/mod.ts";
import { MOTO_CREDENTIALS, MOTO_REGION } from "./moto.ts";

export interface Execution {
  jobId: string;
  thingName: string;
  status: string;
  statusDetails: Record<string, string>;
  versionNumber: number;
  executionNumber: number;
  queuedAt: number;
  startedAt?: number;
  lastUpdatedAt: number;
}

export interface JobsRequest {
  topic: string;
  op: string;
  jobId?: string;
  payload: Record<string, unknown>;
}

export interface JobsPeer extends AsyncDisposable {
  /** Every request received, in order. */
  received: JobsRequest[];
  /** Reject the next N requests with RequestThrottled. */
  throttle: number;
  /** Another writer changes the next N executions updated: VersionMismatch. */
  mismatch: number;
  createJob(jobId: string, document: Record<string, unknown>, things: string[]): Promise<void>;
  cancelJob(jobId: string): Promise<void>;
  execution(thing: string, jobId: string): Execution | undefined;
  /** Resolve once the execution has `status` (throws after `ms`). */
  waitStatus(thing: string, jobId: string, status: string, ms?: number): Promise<Execution>;
}

const TERMINAL = ["SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED"];
const DEVICE_TERMINAL = ["SUCCEEDED", "FAILED", "REJECTED"];
const TOPIC = /^\$aws\/things\/([^/]+)\/jobs\/(start-next|([^/]+)\/(get|update))$/;
const PRESIGNED = /\$\{aws:iot:s3-presigned-url:([^}]+)\}/g;

export async function startJobsPeer(options: {
  broker: string;
  /** A client certificate for a broker with `require_certificate` (PEM texts). */
  tls?: { cert: string; key: string; ca: string };
}): Promise<JobsPeer> {
  const client = await mqtt.connectAsync(options.broker, {
    clientId: `jobs-peer-${crypto.randomUUID().slice(0, 8)}`,
    reconnectPeriod: 50,
    protocolVersion: 4,
    ...(options.tls ? { ...options.tls, rejectUnauthorized: true } : {}),
  });
  const jobs = new Map<string, { document: Record<string, unknown>; created: number }>();
  const execs = new Map<string, Execution>(); // thing/jobId
  const received: JobsRequest[] = [];
  let seq = 0;
  const waiters = new Set<() => void>();

  const pub = (topic: string, body: Record<string, unknown>) =>
    client.publishAsync(
      topic,
      JSON.stringify({ ...body, timestamp: Math.floor(Date.now() / 1000) }),
      {
        qos: 1,
      },
    );

  const doc = async (jobId: string) => {
    const d = JSON.stringify(jobs.get(jobId)!.document);
    let out = d;
    for (const m of d.matchAll(PRESIGNED)) {
      const p = await presignUrl({ method: "GET", url: m[1]! }, {
        credentials: MOTO_CREDENTIALS,
        region: MOTO_REGION,
        service: "s3",
        expiresIn: 600,
      });
      out = out.replace(m[0], p.url);
    }
    return JSON.parse(out) as Record<string, unknown>;
  };

  const pending = (thing: string) =>
    [...execs.values()].filter((e) => e.thingName === thing && !TERMINAL.includes(e.status))
      .sort((a, b) =>
        (a.status === "IN_PROGRESS" ? 0 : 1) - (b.status === "IN_PROGRESS" ? 0 : 1) ||
        a.queuedAt - b.queuedAt
      );

  const describe = async (e: Execution, withDoc = true) => ({
    ...e,
    ...(withDoc ? { jobDocument: await doc(e.jobId) } : {}),
  });

  let nextOf = new Map<string, string | undefined>();
  const notifyNext = async (thing: string) => {
    const next = pending(thing)[0];
    if (nextOf.has(thing) && nextOf.get(thing) === next?.jobId) return;
    nextOf.set(thing, next?.jobId);
    await pub(
      `$aws/things/${thing}/jobs/notify-next`,
      next ? { execution: await describe(next) } : {},
    );
  };

  const changed = () => {
    for (const w of waiters) w();
  };

  const handle = async (topic: string, payload: Record<string, unknown>): Promise<unknown> => {
    const m = TOPIC.exec(topic);
    if (!m) return undefined;
    const thing = m[1]!;
    const op = m[2] === "start-next" ? "start-next" : m[4]!;
    const jobId = m[3];
    received.push({ topic, op, ...(jobId ? { jobId } : {}), payload });
    const token = payload.clientToken;
    const base = `$aws/things/${thing}/jobs/${
      op === "start-next" ? "start-next" : `${jobId}/${op}`
    }`;
    const reject = (code: string, message: string, extra: Record<string, unknown> = {}) =>
      pub(`${base}/rejected`, { code, message, clientToken: token, ...extra });
    if (peer.throttle > 0) {
      peer.throttle--;
      return reject("RequestThrottled", "Rate exceeded");
    }
    if (typeof token === "string" && token.length > 64) {
      return reject("InvalidRequest", "clientToken longer than 64 characters");
    }
    const details = payload.statusDetails as Record<string, unknown> | undefined;
    if (details !== undefined) {
      for (const [k, v] of Object.entries(details)) {
        if (
          !/^[a-zA-Z0-9:_-]{1,128}$/.test(k) || typeof v !== "string" || v.length < 1 ||
          v.length > 1024
        ) {
          return reject("InvalidRequest", `statusDetails entry "${k}" breaks AWS's rules`);
        }
      }
    }
    const now = Math.floor(Date.now() / 1000);
    if (op === "start-next") {
      const e = pending(thing)[0];
      if (!e) return pub(`${base}/accepted`, { clientToken: token });
      if (e.status === "QUEUED") {
        e.status = "IN_PROGRESS";
        e.startedAt = now;
      }
      if (details) e.statusDetails = details as Record<string, string>;
      e.versionNumber++;
      e.lastUpdatedAt = now;
      changed();
      return pub(`${base}/accepted`, { execution: await describe(e), clientToken: token });
    }
    const e = jobId === "$next" ? pending(thing)[0] : execs.get(`${thing}/${jobId}`);
    if (!e) return reject("ResourceNotFound", `Job execution ${jobId} not found for ${thing}`);
    if (op === "get") {
      return pub(`${base}/accepted`, {
        execution: await describe(e, payload.includeJobDocument !== false),
        clientToken: token,
      });
    }
    // update
    const state = () => ({
      status: e.status,
      statusDetails: e.statusDetails,
      versionNumber: e.versionNumber,
    });
    if (TERMINAL.includes(e.status)) {
      return DEVICE_TERMINAL.includes(e.status)
        ? reject("InvalidStateTransition", `Execution is ${e.status}`, { executionState: state() })
        : reject("TerminalStateReached", `Execution is ${e.status}`, { executionState: state() });
    }
    if (peer.mismatch > 0) {
      peer.mismatch--;
      e.versionNumber++; // as if the cloud side had updated it meanwhile
    }
    if (payload.expectedVersion !== undefined && payload.expectedVersion !== e.versionNumber) {
      return reject("VersionMismatch", "expectedVersion does not match", {
        executionState: state(),
      });
    }
    const status = String(payload.status);
    if (!["IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"].includes(status)) {
      return reject("InvalidRequest", `status ${status} cannot be set by a device`);
    }
    e.status = status;
    if (details) e.statusDetails = details as Record<string, string>;
    e.versionNumber++;
    e.lastUpdatedAt = now;
    changed();
    await pub(`${base}/accepted`, {
      ...(payload.includeJobExecutionState ? { executionState: state() } : {}),
      clientToken: token,
    });
    if (TERMINAL.includes(e.status)) await notifyNext(thing);
    return undefined;
  };

  let chain = Promise.resolve();
  client.on("message", (topic, buf) => {
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(new TextDecoder().decode(buf));
    } catch {
      const m = TOPIC.exec(topic);
      if (m) {
        void pub(`${topic}/rejected`, { code: "InvalidJson", message: "Payload is not JSON" });
      }
      return;
    }
    chain = chain.then(async () => void await handle(topic, payload)).catch((e) =>
      console.error("jobs peer", e)
    );
  });
  await client.subscribeAsync("$aws/things/+/jobs/#", { qos: 1 });

  const peer: JobsPeer = {
    received,
    throttle: 0,
    mismatch: 0,
    async createJob(jobId, document, things) {
      jobs.set(jobId, { document, created: Date.now() });
      for (const t of things) {
        execs.set(`${t}/${jobId}`, {
          jobId,
          thingName: t,
          status: "QUEUED",
          statusDetails: {},
          versionNumber: 1,
          executionNumber: ++seq,
          queuedAt: Math.floor(Date.now() / 1000) + seq / 1000,
          lastUpdatedAt: Math.floor(Date.now() / 1000),
        });
        await notifyNext(t);
      }
    },
    async cancelJob(jobId) {
      const things = new Set<string>();
      for (const e of execs.values()) {
        if (e.jobId === jobId && !TERMINAL.includes(e.status)) {
          e.status = "CANCELED";
          e.versionNumber++;
          things.add(e.thingName);
        }
      }
      changed();
      for (const t of things) await notifyNext(t);
    },
    execution: (thing, jobId) => execs.get(`${thing}/${jobId}`),
    waitStatus(thing, jobId, status, ms = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const e = execs.get(`${thing}/${jobId}`);
          if (e?.status === status) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(e);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          const e = execs.get(`${thing}/${jobId}`);
          reject(
            new Error(
              `Job ${jobId} is ${e?.status} ${
                JSON.stringify(e?.statusDetails)
              }, not ${status} after ${ms} ms`,
            ),
          );
        }, ms);
        waiters.add(check);
        check();
      });
    },
    async [Symbol.asyncDispose]() {
      nextOf = new Map();
      await chain;
      await client.endAsync();
    },
  };
  return peer;
}
