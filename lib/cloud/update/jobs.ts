/**
 * The AWS IoT Jobs device API over MQTT, as AWS documents it
 * (https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html):
 *
 * | request (publish)                          | replies                                  |
 * |--------------------------------------------|------------------------------------------|
 * | `$aws/things/T/jobs/start-next`            | `…/start-next/accepted`, `…/rejected`    |
 * | `$aws/things/T/jobs/JOBID/get` (`$next`)   | `…/JOBID/get/accepted`, `…/rejected`     |
 * | `$aws/things/T/jobs/JOBID/update`          | `…/JOBID/update/accepted`, `…/rejected`  |
 * | (the service publishes)                    | `$aws/things/T/jobs/notify-next`         |
 *
 * Every request carries a `clientToken` (≤ 64 characters) and is matched
 * with its reply by it. An update carries `expectedVersion` (the execution's
 * `versionNumber`) and `stepTimeoutInMinutes`; `statusDetails` is checked
 * against AWS's rules before sending (keys `[a-zA-Z0-9:_-]{1,128}`, values
 * 1..1024 characters without control characters). A rejection is a
 * `JobsError` with AWS's code (`VersionMismatch`, `TerminalStateReached`,
 * `RequestThrottled`, `InvalidStateTransition`, `ResourceNotFound`,
 * `InvalidRequest`, `InvalidJson`, `InvalidTopic`, `InternalError`); no
 * reply within the timeout is code `Timeout` (retryable).
 */

import type { Clock } from "../../clock.ts";
import type { MqttClient, MqttMessage, Subscription } from "../../mqtt/mod.ts";

/** A job execution as the service describes it. */
export interface JobExecution {
  jobId: string;
  thingName?: string;
  jobDocument?: Record<string, unknown>;
  status: string;
  statusDetails?: Record<string, string>;
  versionNumber: number;
  executionNumber?: number;
  queuedAt?: number;
  startedAt?: number;
  lastUpdatedAt?: number;
}

export const TERMINAL_STATUSES = [
  "SUCCEEDED",
  "FAILED",
  "TIMED_OUT",
  "REJECTED",
  "REMOVED",
  "CANCELED",
] as const;

/** A rejected or unanswered Jobs request. */
export class JobsError extends Error {
  override name = "JobsError";
  readonly code: string;
  /** The execution state some rejections carry (VersionMismatch). */
  readonly executionState: { status?: string; versionNumber?: number } | undefined;
  constructor(code: string, message: string, executionState?: JobsError["executionState"]) {
    super(message);
    this.code = code;
    this.executionState = executionState;
  }
  /** Worth the same request again later. */
  get retryable(): boolean {
    return this.code === "RequestThrottled" || this.code === "InternalError" ||
      this.code === "Timeout";
  }
  /** The execution is over on the service's side (canceled, removed, timed out). */
  get terminal(): boolean {
    return this.code === "TerminalStateReached" || this.code === "ResourceNotFound" ||
      this.code === "InvalidStateTransition";
  }
}

const KEY = /^[a-zA-Z0-9:_-]{1,128}$/;
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** statusDetails within AWS's rules: long values cut to 1024 characters, bad keys refused. */
export function checkStatusDetails(details: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(details)) {
    if (!KEY.test(k)) throw new RangeError(`statusDetails key "${k}" is not [a-zA-Z0-9:_-]{1,128}`);
    let s = String(v).replace(new RegExp(CONTROL.source, "g"), " ");
    if (s.length === 0) s = "-";
    out[k] = [...s].slice(0, 1024).join("");
  }
  return out;
}

export interface JobsClientOptions {
  mqtt: MqttClient;
  thing: string;
  clock: Clock;
  /** Reply timeout in ms. */
  timeout: number;
}

export class JobsClient implements AsyncDisposable {
  readonly #o: JobsClientOptions;
  readonly #base: string;
  readonly #prefix = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(16).padStart(8, "0");
  readonly #pending = new Map<string, PromiseWithResolvers<Record<string, unknown>>>();
  readonly #notify = new Set<(e: JobExecution | undefined) => void>();
  #subs: Subscription[] = [];
  #counter = 0;

  constructor(options: JobsClientOptions) {
    this.#o = options;
    this.#base = `$aws/things/${options.thing}/jobs`;
  }

  /** Subscribe to notify-next and every reply topic (before any request). */
  async start(): Promise<void> {
    const m = this.#o.mqtt;
    const on = (msg: MqttMessage) => this.#onMessage(msg);
    for (const t of ["notify-next", "start-next/+", "+/get/+", "+/update/+"]) {
      this.#subs.push(await m.subscribe(`${this.#base}/${t}`, on, { qos: 1 }));
    }
  }

  /** Call `fn` with each notify-next execution (undefined: nothing pending). */
  onNotifyNext(fn: (e: JobExecution | undefined) => void): () => void {
    this.#notify.add(fn);
    return () => this.#notify.delete(fn);
  }

  /** Take the next pending job (IN_PROGRESS); undefined when there is none. */
  async startNext(
    options: { stepTimeoutInMinutes?: number; details?: Record<string, string> } = {},
    signal?: AbortSignal,
  ): Promise<JobExecution | undefined> {
    const body: Record<string, unknown> = {};
    if (options.details) body.statusDetails = checkStatusDetails(options.details);
    if (options.stepTimeoutInMinutes) body.stepTimeoutInMinutes = options.stepTimeoutInMinutes;
    const r = await this.#request("start-next", body, signal);
    return r.execution as JobExecution | undefined;
  }

  /** The execution of `jobId` (or `$next`), with its document. */
  async get(jobId: string, signal?: AbortSignal): Promise<JobExecution | undefined> {
    const r = await this.#request(`${jobId}/get`, { includeJobDocument: true }, signal);
    return r.execution as JobExecution | undefined;
  }

  /** Update an execution; resolves with the new `versionNumber`. */
  async update(
    jobId: string,
    u: {
      status: "IN_PROGRESS" | "SUCCEEDED" | "FAILED" | "REJECTED";
      details?: Record<string, string>;
      expectedVersion?: number;
      stepTimeoutInMinutes?: number;
    },
    signal?: AbortSignal,
  ): Promise<number | undefined> {
    const body: Record<string, unknown> = {
      status: u.status,
      includeJobExecutionState: true,
    };
    if (u.details) body.statusDetails = checkStatusDetails(u.details);
    if (u.expectedVersion !== undefined) body.expectedVersion = u.expectedVersion;
    if (u.stepTimeoutInMinutes !== undefined && u.status === "IN_PROGRESS") {
      body.stepTimeoutInMinutes = u.stepTimeoutInMinutes;
    }
    const r = await this.#request(`${jobId}/update`, body, signal);
    const state = r.executionState as { versionNumber?: number } | undefined;
    return state?.versionNumber;
  }

  async #request(
    op: string,
    body: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    // Offline, wait: a request queued while offline would be answered long after it timed out.
    await this.#o.mqtt.waitConnected(signal);
    const token = `${this.#prefix}-${++this.#counter}`;
    const w = Promise.withResolvers<Record<string, unknown>>();
    this.#pending.set(token, w);
    const stop = new AbortController();
    try {
      await this.#o.mqtt.publish(`${this.#base}/${op}`, { ...body, clientToken: token }, {
        qos: 1,
      });
      const timeout = this.#o.clock.sleep(
        this.#o.timeout,
        AbortSignal.any([stop.signal, ...(signal ? [signal] : [])]),
      ).then(
        () => {
          throw new JobsError("Timeout", `No reply to "${op}" within ${this.#o.timeout} ms`);
        },
        () => {
          throw signal?.reason ?? new JobsError("Timeout", "Stopped");
        },
      );
      timeout.catch(() => {});
      return await Promise.race([w.promise, timeout]);
    } finally {
      stop.abort();
      this.#pending.delete(token);
    }
  }

  #onMessage(msg: MqttMessage): void {
    let p: Record<string, unknown>;
    try {
      p = msg.json<Record<string, unknown>>();
    } catch {
      return; // not JSON: not the service
    }
    if (typeof p !== "object" || p === null) return;
    const rest = msg.topic.slice(this.#base.length + 1);
    if (rest === "notify-next") {
      const e = p.execution as JobExecution | undefined;
      for (const fn of this.#notify) fn(e);
      return;
    }
    const w = typeof p.clientToken === "string" ? this.#pending.get(p.clientToken) : undefined;
    if (!w) return;
    if (rest.endsWith("/accepted")) w.resolve(p);
    else if (rest.endsWith("/rejected")) {
      const code = typeof p.code === "string" ? p.code : "InternalError";
      const message = typeof p.message === "string" ? p.message : "no message";
      w.reject(
        new JobsError(
          code,
          `Jobs ${rest.replace(/\/rejected$/, "")} rejected: ${code}: ${message}`,
          p.executionState as JobsError["executionState"],
        ),
      );
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const s of this.#subs.splice(0)) await s.unsubscribe();
    for (const w of this.#pending.values()) w.reject(new JobsError("Timeout", "Stopped"));
    this.#pending.clear();
  }
}
