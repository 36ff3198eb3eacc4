/**
 * The AWS IoT Device Shadow service for the tests: an MQTT responder on the
 * test broker that keeps every shadow in **moto's IoT data plane**
 * (UpdateThingShadow, GetThingShadow, DeleteThingShadow over HTTP, signed
 * with our SigV4 signer as service "iotdata"), so versions, deltas and 409
 * conflicts come from an implementation we did not write. It adds only what
 * moto does not check (8 KB state, nesting depth 6, clientToken ≤ 64 bytes,
 * the version of a shadow that does not exist) and publishes the answers as
 * AWS documents them:
 *
 * - `OP/accepted` / `OP/rejected` (`{ code, message, timestamp, clientToken }`)
 * - `update/documents` (`{ previous, current, timestamp, clientToken }`)
 * - `update/delta` (`{ version, timestamp, state, metadata }`) when the update
 *   had desired and desired ≠ reported
 *
 * ```ts
 * await using moto = await startMoto();
 * await using peer = await startShadowPeer({ broker: broker.url, moto: moto.url });
 * await peer.createThing("pump-1");
 * await peer.cloudUpdate("pump-1", "thermostat", { desired: { setpoint: 21 } }); // an app over HTTP
 * (await peer.read("pump-1", "thermostat")).state.reported;                  // what moto holds
 * ```
 *
 * `fault` answers a request with a rejection code of the test's choosing
 * (429, 500, …) before moto sees it; `delay` holds every reply that long;
 * `received` keeps every request's topic and payload as they were on the
 * broker; `peak` is the most requests seen unanswered at once.
 */

import mqtt from "mqtt";
import { signRequest } from "../../lib/aws/mod.ts";
import { MOTO_CREDENTIALS, MOTO_REGION } from "./moto.ts";

/** A request the peer received. */
export interface PeerRequest {
  topic: string;
  op: "get" | "update" | "delete";
  thing: string;
  shadow: string | undefined;
  payload: Record<string, unknown>;
  bytes: number;
}

export interface ShadowPeerOptions {
  /** The broker URL (mqtt://127.0.0.1:PORT). */
  broker: string;
  /** moto's URL. */
  moto: string;
  /** Answer a request with this rejection code instead of moto (undefined: moto answers). */
  fault?: (req: PeerRequest) => number | undefined;
  /** Hold every reply this many ms. @default 0 */
  delay?: number;
  /** Run before a request is handled (a racing cloud writer: `peer.silentUpdate`). */
  before?: (req: PeerRequest) => Promise<void> | void;
}

export interface ShadowPeer extends AsyncDisposable {
  received: PeerRequest[];
  /** Most requests received and not yet answered at the same time. */
  readonly peak: number;
  options: ShadowPeerOptions;
  createThing(thing: string): Promise<void>;
  /** The document in moto (GetThingShadow), or undefined when there is none. */
  read(thing: string, shadow?: string): Promise<ShadowDoc | undefined>;
  /** An update over HTTP by a cloud application; publishes accepted, documents and delta like AWS. */
  cloudUpdate(
    thing: string,
    shadow: string | undefined,
    state: Record<string, unknown>,
  ): Promise<ShadowDoc>;
  /** An update straight to moto that publishes nothing (its messages were lost). */
  silentUpdate(
    thing: string,
    shadow: string | undefined,
    state: Record<string, unknown>,
  ): Promise<void>;
  /** A delete over HTTP by a cloud application; publishes delete/accepted. */
  cloudDelete(thing: string, shadow?: string): Promise<void>;
  /** Publish raw bytes (tests of gaps and bad messages). */
  publish(topic: string, payload: unknown): Promise<void>;
  /** Resolve once every request received so far has been answered. */
  drained(): Promise<void>;
}

export interface ShadowDoc {
  state: { desired?: Record<string, unknown>; reported?: Record<string, unknown>; delta?: unknown };
  metadata?: unknown;
  version: number;
  timestamp?: number;
}

const TOPIC = /^\$aws\/things\/([^/]+)\/shadow(?:\/name\/([^/]+))?\/(get|update|delete)$/;

export async function startShadowPeer(options: ShadowPeerOptions): Promise<ShadowPeer> {
  const client = await mqtt.connectAsync(options.broker, {
    clientId: `shadow-peer-${crypto.randomUUID().slice(0, 8)}`,
    reconnectPeriod: 50,
    protocolVersion: 4,
  });
  const received: PeerRequest[] = [];
  let open = 0;
  let peak = 0;
  let chain: Promise<void> = Promise.resolve();

  const call = async (
    method: string,
    path: string,
    service = "iotdata",
    body?: string,
  ): Promise<{ status: number; json: Record<string, unknown> }> => {
    const signed = await signRequest(
      {
        method,
        url: `${options.moto}${path}`,
        headers: { "content-type": "application/json" },
        body: body ?? "",
      },
      { credentials: MOTO_CREDENTIALS, region: MOTO_REGION, service },
    );
    const r = await fetch(signed.url, {
      method,
      headers: signed.headers,
      ...(body !== undefined ? { body } : {}),
    });
    const text = await r.text();
    let json: Record<string, unknown> = {};
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      json = { message: text };
    }
    return { status: r.status, json };
  };
  const path = (thing: string, shadow?: string) =>
    `/things/${encodeURIComponent(thing)}/shadow${
      shadow === undefined ? "" : `?name=${encodeURIComponent(shadow)}`
    }`;
  const base = (thing: string, shadow?: string) =>
    `$aws/things/${thing}/shadow${shadow === undefined ? "" : `/name/${shadow}`}`;
  const pub = (topic: string, payload: unknown) =>
    client.publishAsync(topic, JSON.stringify(payload), { qos: 1 }).then(() => {});
  const now = () => Math.floor(Date.now() / 1000);
  const read = async (thing: string, shadow?: string) => {
    const r = await call("GET", path(thing, shadow));
    if (r.status === 404) return undefined;
    if (r.status !== 200) {
      throw new Error(`moto GetThingShadow: ${r.status} ${JSON.stringify(r.json)}`);
    }
    return r.json as unknown as ShadowDoc;
  };
  const answered = new WeakSet<PeerRequest>();
  /** Count a request answered before its reply leaves (the device may send the next at once). */
  const answer = (req: PeerRequest, suffix: string, payload: unknown) => {
    if (!answered.has(req)) {
      answered.add(req);
      open--;
    }
    return pub(`${req.topic}/${suffix}`, payload);
  };
  const reject = (req: PeerRequest, code: number, message: string) =>
    answer(req, "rejected", {
      code,
      message,
      timestamp: now(),
      ...(req.payload.clientToken !== undefined ? { clientToken: req.payload.clientToken } : {}),
    });

  /** After an accepted update: documents, and delta when desired was in it. */
  const announce = async (
    thing: string,
    shadow: string | undefined,
    previous: ShadowDoc | undefined,
    hadDesired: boolean,
    token: unknown,
  ) => {
    const current = await read(thing, shadow);
    if (!current) return;
    const b = base(thing, shadow);
    const strip = (d: ShadowDoc) => ({
      state: { desired: d.state?.desired, reported: d.state?.reported },
      metadata: d.metadata,
      version: d.version,
    });
    await pub(`${b}/update/documents`, {
      previous: previous ? strip(previous) : null,
      current: strip(current),
      timestamp: now(),
      ...(token !== undefined ? { clientToken: token } : {}),
    });
    const delta = current.state?.delta;
    if (hadDesired && delta && Object.keys(delta).length) {
      await pub(`${b}/update/delta`, {
        version: current.version,
        timestamp: now(),
        state: delta,
        metadata: (current.metadata as Record<string, unknown> | undefined)?.desired ?? {},
      });
    }
  };

  const handle = async (req: PeerRequest, raw: string) => {
    const token = req.payload.clientToken;
    if (typeof token === "string" && new TextEncoder().encode(token).length > 64) {
      return reject(req, 400, "clientToken is longer than 64 bytes");
    }
    await options.before?.(req);
    const code = options.fault?.(req);
    if (code !== undefined) return reject(req, code, `Injected ${code}`);
    if (req.op === "get") {
      const doc = await read(req.thing, req.shadow);
      if (!doc) return reject(req, 404, `No shadow exists with name: '${req.shadow ?? req.thing}'`);
      return answer(req, "accepted", { ...doc, timestamp: now(), clientToken: token });
    }
    if (req.op === "delete") {
      const r = await call("DELETE", path(req.thing, req.shadow));
      if (r.status !== 200) {
        return reject(req, r.status, String(r.json.message ?? "delete failed"));
      }
      return answer(req, "accepted", {
        version: r.json.version,
        timestamp: now(),
        clientToken: token,
      });
    }
    // update: what moto does not check, then moto.
    const state = req.payload.state as Record<string, unknown> | undefined;
    const stateBytes = new TextEncoder().encode(JSON.stringify(state ?? {})).length;
    if (stateBytes > 8192) {
      return reject(req, 413, "The payload exceeds the maximum size allowed");
    }
    for (const section of ["desired", "reported"]) {
      const s = state?.[section];
      if (s !== undefined && s !== null && _depth(s) > 6) {
        return reject(req, 400, "JSON contains too many levels of nesting; maximum is 6");
      }
    }
    const previous = await read(req.thing, req.shadow);
    if (!previous && req.payload.version !== undefined) {
      return reject(req, 409, "Version conflict");
    }
    const body = JSON.stringify({ ...req.payload, clientToken: undefined });
    const r = await call("POST", path(req.thing, req.shadow), "iotdata", body);
    if (r.status !== 200) {
      return reject(req, r.status, String(r.json.message ?? raw.slice(0, 80)));
    }
    await answer(req, "accepted", { ...r.json, clientToken: token });
    await announce(req.thing, req.shadow, previous, !!state?.desired, token);
  };

  client.on("message", (topic, payload) => {
    const m = TOPIC.exec(topic);
    if (!m) return;
    const raw = new TextDecoder().decode(payload);
    let json: Record<string, unknown>;
    try {
      json = raw.length ? JSON.parse(raw) : {};
    } catch {
      json = {};
    }
    const req: PeerRequest = {
      topic,
      op: m[3] as PeerRequest["op"],
      thing: m[1]!,
      shadow: m[2],
      payload: json,
      bytes: payload.length,
    };
    received.push(req);
    open++;
    peak = Math.max(peak, open);
    chain = chain.then(async () => {
      if (options.delay) await new Promise((r) => setTimeout(r, options.delay));
      try {
        if (raw.length && typeof json !== "object") throw new Error("bad json");
        await handle(req, raw);
      } catch (e) {
        await reject(req, 500, `Peer error: ${(e as Error).message}`).catch(() => {});
      } finally {
        if (!answered.has(req)) {
          answered.add(req);
          open--;
        }
      }
    });
  });
  await client.subscribeAsync(
    ["$aws/things/+/shadow/get", "$aws/things/+/shadow/update", "$aws/things/+/shadow/delete"]
      .flatMap((t) => [t, t.replace("/shadow/", "/shadow/name/+/")]),
    { qos: 1 },
  );

  return {
    received,
    get peak() {
      return peak;
    },
    options,
    async createThing(thing) {
      const r = await call("POST", `/things/${encodeURIComponent(thing)}`, "iot", "{}");
      if (r.status !== 200) {
        throw new Error(`moto CreateThing: ${r.status} ${JSON.stringify(r.json)}`);
      }
    },
    read,
    async cloudUpdate(thing, shadow, state) {
      const done = Promise.withResolvers<ShadowDoc>();
      chain = chain.then(async () => {
        try {
          const previous = await read(thing, shadow);
          const r = await call("POST", path(thing, shadow), "iotdata", JSON.stringify({ state }));
          if (r.status !== 200) throw new Error(`moto UpdateThingShadow: ${r.status}`);
          await pub(`${base(thing, shadow)}/update/accepted`, r.json);
          await announce(thing, shadow, previous, !!state.desired, undefined);
          done.resolve((await read(thing, shadow))!);
        } catch (e) {
          done.reject(e);
        }
      });
      return await done.promise;
    },
    async silentUpdate(thing, shadow, state) {
      const r = await call("POST", path(thing, shadow), "iotdata", JSON.stringify({ state }));
      if (r.status !== 200) throw new Error(`moto UpdateThingShadow: ${r.status}`);
    },
    async cloudDelete(thing, shadow) {
      const done = Promise.withResolvers<void>();
      chain = chain.then(async () => {
        try {
          const r = await call("DELETE", path(thing, shadow));
          if (r.status !== 200) throw new Error(`moto DeleteThingShadow: ${r.status}`);
          await pub(`${base(thing, shadow)}/delete/accepted`, {
            version: r.json.version,
            timestamp: now(),
          });
          done.resolve();
        } catch (e) {
          done.reject(e);
        }
      });
      return await done.promise;
    },
    publish: pub,
    async drained() {
      await chain;
    },
    async [Symbol.asyncDispose]() {
      await chain.catch(() => {});
      await client.endAsync(true);
    },
  };
}

function _depth(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(_depth));
  if (v && typeof v === "object") return 1 + Math.max(0, ...Object.values(v).map(_depth));
  return 0;
}
