/**
 * Fleet provisioning benchmark (lib/cloud/provision, docs/provisioning.md)
 * against mosquitto with TLS and `require_certificate` and the provisioning
 * peer (tests/helpers/provision_peer.ts, tests/provision_helpers.ts), on
 * loopback, Tern against bare npm:mqtt in the same run:
 *
 * - Tern: the whole agent in-process (`Agent.start` with the library's
 *   services, as the provisioning tests run it) on a fresh state directory
 *   with a claim certificate, from the start until its "mqtt" service is
 *   connected with the device's own certificate. Broken down by the agent's
 *   own log records (ms timestamps): key written (agent start + P-256 key),
 *   claim connection up (mTLS), CreateCertificateFromCsr done (CSR built,
 *   subscribe, request, reply), RegisterThing done, connected with the own
 *   certificate (identity committed, claim connection closed, new mTLS
 *   connect). Key generation and the CSR are also timed alone (in-process).
 *   Then a restart on the identity (start → connected, no cloud call).
 * - bare: npm:mqtt doing the same MQTT work with certificates that already
 *   exist: an mTLS connect with the claim certificate, the two requests
 *   (subscribe to accepted + rejected, publish QoS 0, wait for the reply)
 *   with a CSR built beforehand, and an mTLS connect with the issued one.
 * - Rotation: the first certificate issued past 80 % of its life, so the
 *   agent rotates right after it connects: connected → "Certificate rotated"
 *   (new key and CSR, both requests over its own connection, reconnect with
 *   the new certificate, proof round trip, commit).
 *
 * Each run is a fresh world (CA, mosquitto, peer). Medians of `--runs` (5).
 *
 * Run: deno run --allow-all tests/bench/provision_bench.ts [--runs 5]
 * Writes tests/bench/results/provision.md.
 */

import mqtt from "mqtt";
import type { LogRecord } from "../../lib/log/record.ts";
import { buildCsr, generateKeyPem } from "../../lib/cloud/provision/mod.ts";
import { MOSQUITTO_MISSING, mosquittoAvailable } from "../helpers/mosquitto.ts";
import { until } from "../helpers/wait.ts";
import { provisionWorld, SERIAL, type TestAgent, THING, type World } from "../provision_helpers.ts";

const rIdx = Deno.args.indexOf("--runs");
const RUNS = rIdx >= 0 ? Number(Deno.args[rIdx + 1]) : 5;
const HOUR = 3_600_000;

const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const range = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;

/** Time of the first log record matching. */
function at(
  logs: LogRecord[],
  msg: string,
  pred: (f: Record<string, unknown>) => boolean = () => true,
) {
  const r = logs.find((l) => l.msg === msg && pred(l.fields ?? {}));
  if (!r) throw new Error(`No "${msg}" in the log: ${JSON.stringify(logs.map((l) => l.msg))}`);
  return r.time;
}

interface TernRun {
  key: number;
  claimConnect: number;
  csr: number;
  register: number;
  reconnect: number;
  total: number;
  restart: number;
}

async function ternRun(w: World): Promise<TernRun> {
  const t0 = Date.now();
  let a: TestAgent | undefined = await w.agent({ log: { level: "info" } });
  let out: Omit<TernRun, "restart">;
  try {
    await w.connected(a, 30_000);
    const logs = a.logs;
    const step = (s: string) =>
      at(logs, "Provisioning step recorded", (f) => f.purpose === "claim" && f.step === s);
    const key = step("key");
    const claimUp = at(logs, "Connected", (f) => f.clientId !== THING);
    const cert = step("certificate");
    const reg = step("registered");
    const own = at(logs, "Connected", (f) => f.clientId === THING);
    out = {
      key: key - t0,
      claimConnect: claimUp - key,
      csr: cert - claimUp,
      register: reg - cert,
      reconnect: own - reg,
      total: own - t0,
    };
  } finally {
    await a[Symbol.asyncDispose]();
  }
  const t1 = Date.now();
  a = await w.agent();
  try {
    await w.connected(a, 30_000);
    return { ...out, restart: at(a.logs, "Connected", (f) => f.clientId === THING) - t1 };
  } finally {
    await a[Symbol.asyncDispose]();
  }
}

interface BareRun {
  connect: number;
  csr: number;
  register: number;
  reconnect: number;
}

async function bareRun(
  w: World,
  csr: string,
): Promise<Omit<BareRun, "reconnect"> & { certificatePem: string }> {
  const claimCert = await Deno.readTextFile(`${w.dir}/claim.crt`);
  const claimKey = await Deno.readTextFile(`${w.dir}/claim.key`);
  const ca = await Deno.readTextFile(w.tls.paths.caCert);
  const opts = (cert: string, key: string, clientId: string) => ({
    cert,
    key,
    ca,
    clientId,
    rejectUnauthorized: true,
    reconnectPeriod: 0,
    protocolVersion: 4 as const,
  });
  let t = performance.now();
  const c = await mqtt.connectAsync(w.broker.url, opts(claimCert, claimKey, "bare-claim"));
  const connect = performance.now() - t;
  (c.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
  const request = async (topic: string, body: unknown) => {
    const reply = Promise.withResolvers<Record<string, unknown>>();
    const on = (tp: string, p: Uint8Array) => {
      if (tp === `${topic}/accepted`) reply.resolve(JSON.parse(new TextDecoder().decode(p)));
      if (tp === `${topic}/rejected`) reply.reject(new Error(new TextDecoder().decode(p)));
    };
    c.on("message", on);
    await c.subscribeAsync([`${topic}/accepted`, `${topic}/rejected`], { qos: 1 });
    await c.publishAsync(topic, JSON.stringify(body), { qos: 0 });
    const r = await reply.promise;
    c.off("message", on);
    await c.unsubscribeAsync([`${topic}/accepted`, `${topic}/rejected`]);
    return r;
  };
  t = performance.now();
  const made = await request("$aws/certificates/create-from-csr/json", {
    certificateSigningRequest: csr,
  });
  const csrMs = performance.now() - t;
  t = performance.now();
  await request("$aws/provisioning-templates/TernFleet/provision/json", {
    certificateOwnershipToken: made.certificateOwnershipToken,
    parameters: { SerialNumber: `${SERIAL}b`, DeviceId: "bare" },
  });
  const registerMs = performance.now() - t;
  await c.endAsync();
  return {
    connect,
    csr: csrMs,
    register: registerMs,
    certificatePem: String(made.certificatePem),
  };
}

async function bareOwn(w: World, certPem: string, keyPem: string): Promise<number> {
  const ca = await Deno.readTextFile(w.tls.paths.caCert);
  const t = performance.now();
  const c = await mqtt.connectAsync(w.broker.url, {
    cert: certPem,
    key: keyPem,
    ca,
    clientId: `tern-${SERIAL}b`,
    rejectUnauthorized: true,
    reconnectPeriod: 0,
    protocolVersion: 4,
  });
  const ms = performance.now() - t;
  await c.endAsync();
  return ms;
}

async function rotationRun(): Promise<number[]> {
  const validity = (n: number) =>
    n === 0
      ? { notBefore: new Date(Date.now() - 23 * HOUR), notAfter: new Date(Date.now() + HOUR) }
      : { notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 24 * HOUR) };
  await using w = await provisionWorld({ validity });
  await using a = await w.agent({ log: { level: "info" } });
  await until(() => a.logs.some((l) => l.msg === "Certificate rotated"), {
    ms: 30_000,
    what: () => `a rotation (${JSON.stringify(a.provision())})`,
  });
  const own = at(a.logs, "Connected", (f) => f.clientId === THING);
  const step = (s: string) =>
    at(a.logs, "Rotation step recorded", (f) => f.purpose === "rotate" && f.step === s);
  const done = at(a.logs, "Certificate rotated");
  // connected → key written, → certificate, → registered, → switch, → committed; total
  return [
    step("key") - own,
    step("certificate") - step("key"),
    step("registered") - step("certificate"),
    step("switch") - step("registered"),
    done - step("switch"),
    done - own,
  ];
}

if (import.meta.main) {
  if (!mosquittoAvailable()) {
    console.warn(`provision bench skipped: ${MOSQUITTO_MISSING}`);
    Deno.exit(0);
  }
  // Key + CSR alone (the device's own code, in-process, warm after the first).
  const keyMs: number[] = [];
  const csrMs: number[] = [];
  let csr = "";
  let pem = "";
  for (let i = 0; i < 21; i++) {
    let t = performance.now();
    pem = await generateKeyPem();
    keyMs.push(performance.now() - t);
    t = performance.now();
    csr = await buildCsr(pem, "dev-bare");
    csrMs.push(performance.now() - t);
  }
  const tern: TernRun[] = [];
  const bare: BareRun[] = [];
  for (let r = 0; r < RUNS; r++) {
    await using w = await provisionWorld();
    const { certificatePem, ...b } = await bareRun(w, csr);
    bare.push({ ...b, reconnect: await bareOwn(w, certificatePem, pem) });
    const t = await ternRun(w);
    tern.push(t);
    console.log(
      `run ${r + 1}: tern ${t.total} ms (restart ${t.restart}), bare connect ${
        b.connect.toFixed(1)
      } ms`,
    );
  }
  const rot: number[][] = [];
  for (let r = 0; r < Math.min(3, RUNS); r++) rot.push(await rotationRun());
  const T = (k: keyof TernRun) => med(tern.map((x) => x[k]));
  const B = (k: keyof BareRun) => med(bare.map((x) => x[k]));
  const R = (i: number) => med(rot.map((x) => x[i]!));
  const f = (n: number, d = 1) => n.toFixed(d);
  const load = Deno.loadavg().map((x) => x.toFixed(2)).join(", ");
  const bareTotal = B("connect") + B("csr") + B("register") + B("reconnect");
  const table = [
    "# Fleet provisioning (lib/cloud/provision vs bare npm:mqtt, mosquitto require_certificate)",
    "",
    `Command: \`deno run --allow-all tests/bench/provision_bench.ts --runs ${RUNS}\` (Deno ${Deno.version.deno}, ` +
    `mosquitto with TLS and \`require_certificate\` on loopback, the provisioning peer answering; a fresh CA, ` +
    `broker and state directory per run; medians of ${RUNS} runs, rotation of ${rot.length}). ` +
    `Load average at the end: ${load} (shared 2-core machine).`,
    "",
    "| claim → connected with the own certificate (ms, median) | Tern (agent) | range | bare npm:mqtt | ratio |",
    "|---|---:|---:|---:|---:|",
    `| key written (Tern: agent start + P-256 key) | ${f(T("key"), 0)} | ${
      range(tern.map((x) => x.key))
    } | — | |`,
    `| claim mTLS connect | ${f(T("claimConnect"), 0)} | ${
      range(tern.map((x) => x.claimConnect))
    } | ${f(B("connect"))} | ${f(T("claimConnect") / B("connect"), 2)} |`,
    `| CreateCertificateFromCsr (Tern: + CSR built) | ${f(T("csr"), 0)} | ${
      range(tern.map((x) => x.csr))
    } | ${f(B("csr"))} | ${f(T("csr") / B("csr"), 2)} |`,
    `| RegisterThing | ${f(T("register"), 0)} | ${range(tern.map((x) => x.register))} | ${
      f(B("register"))
    } | ${f(T("register") / B("register"), 2)} |`,
    `| identity committed + reconnect with the own certificate | ${f(T("reconnect"), 0)} | ${
      range(tern.map((x) => x.reconnect))
    } | ${f(B("reconnect"))} | ${f(T("reconnect") / B("reconnect"), 2)} |`,
    `| **total: first start → connected** | **${f(T("total"), 0)}** | ${
      range(tern.map((x) => x.total))
    } | ${f(bareTotal)} (MQTT work only) | ${f(T("total") / bareTotal, 2)} |`,
    `| restart on the stored identity → connected | ${f(T("restart"), 0)} | ${
      range(tern.map((x) => x.restart))
    } | ${f(B("connect"))} (one mTLS connect) | ${f(T("restart") / B("connect"), 2)} |`,
    "",
    `Alone, in-process (median of 21): P-256 key generated and PEM-encoded ${
      f(med(keyMs), 2)
    } ms, ` +
    `CSR built and signed ${f(med(csrMs), 2)} ms.`,
    "",
    "| rotation (ms, median) | Tern |",
    "|---|---:|",
    `| connected → new key written | ${f(R(0), 0)} |`,
    `| CreateCertificateFromCsr over the own connection | ${f(R(1), 0)} |`,
    `| RegisterThing | ${f(R(2), 0)} |`,
    `| switch recorded | ${f(R(3), 0)} |`,
    `| reconnect with the new certificate, proof round trip, commit | ${f(R(4), 0)} |`,
    `| key written → committed (the rotation's own work) | ${f(R(5) - R(0), 0)} |`,
    `| **total: connected → "Certificate rotated"** | **${f(R(5), 0)}** (${
      range(rot.map((x) => x[5]!))
    }) |`,
    "",
  ].join("\n");
  await Deno.writeTextFile(new URL("./results/provision.md", import.meta.url), table + "\n");
  console.log(table);
}
