/**
 * Every way the provisioning service can say no, against mosquitto and the
 * provisioning peer: each rejection of CreateCertificateFromCsr and
 * RegisterThing (a fault of the test's choosing, or the peer's own checks:
 * unknown template, missing parameter, lapsed token) is shown in the status
 * and the audit trail with AWS's statusCode, errorCode and errorMessage,
 * retried with backoff while the agent keeps running, and the device is
 * provisioned once the cause is gone. A RegisterThing rejection starts again
 * from a new certificate. An expired claim certificate is reported without
 * a connection attempt; a token older than its life is never used.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { AuditLog, Database } from "../lib/db/mod.ts";
import { skipWithout } from "./helpers/peers.ts";
import type { PeerFault } from "./helpers/provision_peer.ts";
import { until } from "./helpers/wait.ts";
import { identityOf, provisionWorld, THING, type World } from "./provision_helpers.ts";

const ignore = skipWithout("mosquitto", import.meta.url);

function audit(w: World) {
  using db = Database.open({ path: join(w.stateDir, "tern.db"), purgeInterval: 0 });
  return new AuditLog(db, { create: false }).list({ action: "provision." });
}

const FAULTS: { kind: "csr" | "register"; fault: PeerFault }[] = [
  {
    kind: "csr",
    fault: { statusCode: 400, errorCode: "InvalidCsr", errorMessage: "Invalid CSR" },
  },
  {
    kind: "csr",
    fault: { statusCode: 429, errorCode: "Throttled", errorMessage: "Rate exceeded" },
  },
  {
    kind: "csr",
    fault: { statusCode: 500, errorCode: "InternalFailure", errorMessage: "Internal error" },
  },
  {
    kind: "register",
    fault: {
      statusCode: 403,
      errorCode: "AccessDenied",
      errorMessage: "Pre-provisioning hook said no",
    },
  },
  {
    kind: "register",
    fault: { statusCode: 409, errorCode: "ConflictException", errorMessage: "Thing exists" },
  },
  {
    kind: "register",
    fault: { statusCode: 500, errorCode: "InternalFailure", errorMessage: "Internal error" },
  },
];

for (const { kind, fault } of FAULTS) {
  Deno.test({
    name:
      `a ${fault.statusCode} ${fault.errorCode} on ${kind} is reported with AWS's fields, retried, then provisioned`,
    ignore,
    fn: async () => {
      let left = 2;
      await using w = await provisionWorld({
        fault: (k) => (k === kind && left-- > 0 ? fault : undefined),
      });
      await using a = await w.agent();
      await until(() => a.provision().lastError !== undefined, {
        what: () => JSON.stringify(a.provision()),
      });
      const err = a.provision().lastError as Record<string, unknown>;
      assert.equal(err.statusCode, fault.statusCode);
      assert.equal(err.errorCode, fault.errorCode);
      assert.equal(err.errorMessage, fault.errorMessage);
      assert.equal(err.request, kind === "csr" ? "CreateCertificateFromCsr" : "RegisterThing");
      assert.ok(a.logs.some((r) => r.level === "error" && r.fields?.errorCode === fault.errorCode));
      // The agent keeps running: provision is not failed, the database serves.
      const states = Object.fromEntries(a.agent.states(false).map((s) => [s.name, s.state]));
      assert.equal(states.provision, "running");
      assert.equal(states.database, "running");
      assert.equal(states.mqtt, "waiting");
      await w.connected(a);
      assert.equal(a.provision().state, "provisioned");
      assert.equal(a.provision().lastError, undefined);
      const kinds = w.peer.received.map((r) => r.kind);
      // A RegisterThing rejection drops that certificate: each retry starts from a new CSR.
      assert.deepEqual(
        kinds,
        kind === "csr"
          ? ["csr", "csr", "csr", "register"]
          : ["csr", "register", "csr", "register", "csr", "register"],
      );
      const events = audit(w);
      assert.deepEqual(events.map((e) => e.outcome), ["failure", "failure", "success"]);
      assert.equal((events[0]!.details as Record<string, unknown>).errorCode, fault.errorCode);
      assert.equal((events[0]!.details as Record<string, unknown>).statusCode, fault.statusCode);
    },
  });
}

Deno.test({
  name: "the peer's own rejections: unknown template 404, missing parameter 400, lapsed token 400",
  ignore,
  fn: async () => {
    await using w = await provisionWorld();
    {
      await using a = await w.agent({ provision: { template: "NoSuchTemplate" } });
      await until(() => a.provision().lastError !== undefined);
      const e = a.provision().lastError as Record<string, unknown>;
      assert.equal(e.statusCode, 404);
      assert.equal(e.errorCode, "ResourceNotFound");
      assert.match(String(e.errorMessage), /NoSuchTemplate/);
    }
    {
      await using a = await w.agent({ provision: { parameters: { DeviceId: "${deviceId}" } } });
      await until(() =>
        (a.provision().lastError as { errorCode?: string })?.errorCode === "InvalidParameters"
      );
      const e = a.provision().lastError as Record<string, unknown>;
      assert.equal(e.statusCode, 400);
      assert.match(String(e.errorMessage), /SerialNumber/);
    }
    w.peer.options.tokenTtl = -1; // every token has lapsed at the peer
    {
      await using a = await w.agent();
      await until(() =>
        (a.provision().lastError as { errorCode?: string })?.errorCode ===
          "InvalidCertificateOwnershipToken"
      );
      assert.equal((a.provision().lastError as { statusCode: number }).statusCode, 400);
      w.peer.options.tokenTtl = undefined;
      await w.connected(a);
      assert.equal(identityOf(w.stateDir).thing, THING);
    }
  },
});

Deno.test({
  name: "an expired claim certificate is reported and retried, with no connection attempt",
  ignore,
  fn: async () => {
    await using w = await provisionWorld();
    const old = await w.peer.issue({
      cn: "claim-old",
      notBefore: new Date(Date.now() - 48 * 3_600_000),
      notAfter: new Date(Date.now() - 3_600_000),
    });
    await Deno.writeTextFile(join(w.dir, "claim.crt"), old.certPem);
    await Deno.writeTextFile(join(w.dir, "claim.key"), old.keyPem);
    await using a = await w.agent();
    await until(() => ((a.provision().attempts as number) ?? 0) >= 2, {
      what: () => JSON.stringify(a.provision()),
    });
    const e = a.provision().lastError as Record<string, unknown>;
    assert.equal(e.errorCode, "ClaimCertificateExpired");
    assert.match(String(e.errorMessage), /claim certificate is valid from .* to /);
    assert.equal(w.peer.received.length, 0);
    assert.ok(!w.broker.log().includes("claim-old"), "no connection was tried");
    const states = Object.fromEntries(a.agent.states(false).map((s) => [s.name, s.state]));
    assert.equal(states.provision, "running");
    assert.equal(audit(w)[0]!.outcome, "failure");
  },
});

Deno.test({
  name:
    "a recorded ownership token older than its 1 h life is not used: a new certificate is asked for",
  ignore,
  fn: async () => {
    let answer = false;
    await using w = await provisionWorld({
      fault: (k) => (k === "register" && !answer ? "drop" : undefined),
    });
    {
      await using a = await w.agent();
      await until(() => w.peer.received.some((r) => r.kind === "register"));
      assert.equal(a.provision().state, "provisioning");
    }
    const firstToken = w.peer.received.find((r) => r.kind === "register")!.payload
      .certificateOwnershipToken;
    // The device was off for two hours: its recorded token lapsed.
    {
      const db = new DatabaseSync(join(w.stateDir, "tern.db"));
      const row = db.prepare(`SELECT value FROM _provision WHERE key = 'flow'`).get() as {
        value: string;
      };
      const flow = JSON.parse(row.value);
      assert.equal(flow.step, "certificate");
      flow.tokenAt -= 2 * 3_600_000;
      db.prepare(`UPDATE _provision SET value = ? WHERE key = 'flow'`).run(JSON.stringify(flow));
      db.close();
    }
    answer = true;
    const before = w.peer.received.length;
    await using a = await w.agent();
    await w.connected(a);
    const after = w.peer.received.slice(before);
    assert.deepEqual(after.map((r) => r.kind).slice(0, 2), ["csr", "register"]);
    assert.ok(after.every((r) => r.payload.certificateOwnershipToken !== firstToken));
    assert.ok(a.logs.some((r) => /token lapsed/.test(r.msg)));
  },
});
