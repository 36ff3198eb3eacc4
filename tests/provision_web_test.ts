/**
 * An installer provisions a device through the local web API: the agent
 * (database, audit, web on a loopback socket, provisioning on without a
 * claim certificate) waits with MQTT in "waiting"; `POST
 * /api/provision/identity` (admin) with a certificate bundle is refused for
 * a user (403) and for a bad bundle (400, nothing installed), then accepted:
 * MQTT connects to mosquitto (mTLS) with it at once, `GET /api/provision`
 * and `/api/status` show it, and it is audited without the key.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Agent } from "../lib/agent.ts";
import { configSchema } from "../lib/config/mod.ts";
import { AuditLog, Database } from "../lib/db/mod.ts";
import { LogHub } from "../lib/log/mod.ts";
import { freePort } from "../deploy/free_port.ts";
import { SERVICES } from "../services.ts";
import type { WebService } from "../routes/web_service.ts";
import { skipWithout } from "./helpers/peers.ts";
import { until } from "./helpers/wait.ts";
import { identityFiles, identityOf, logged, provisionWorld } from "./provision_helpers.ts";

const ignore = skipWithout("mosquitto", import.meta.url);
const PW = "correct-horse-battery";

Deno.test({
  name: "an admin uploads a certificate bundle in the web API; MQTT connects with it, audited",
  ignore,
  fn: async () => {
    await using w = await provisionWorld();
    const port = freePort();
    const base = `http://127.0.0.1:${port}`;
    const input = w.input({
      web: {
        listen: [base],
        auth: { iterations: 10_000, delay: 0 },
        static: { enabled: false },
      },
    });
    delete (input.provision as Record<string, unknown>).claim;
    delete (input.provision as Record<string, unknown>).template;
    const config = configSchema.parse(input);
    const agent = await Agent.start({
      loaded: { config, configDir: w.dir, stateDir: w.stateDir, files: [], secrets: [] },
      factories: SERVICES,
      hub: new LogHub({ sinks: [], level: "warn" }),
    });
    try {
      const state = (n: string) => agent.states(false).find((s) => s.name === n)?.state;
      assert.equal(state("web"), "running", "the web UI serves while there is no identity");
      assert.equal(state("mqtt"), "waiting");
      let cookie = "", xsrf = "";
      const call = async (method: string, path: string, body?: unknown) => {
        const r = await fetch(base + path, {
          method,
          headers: {
            "content-type": "application/json",
            ...(cookie ? { cookie } : {}),
            ...(xsrf ? { "x-xsrf-token": xsrf } : {}),
          },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        });
        const set = r.headers.get("set-cookie");
        if (set) cookie = set.split(";")[0]!;
        const text = await r.text();
        return [r.status, text ? JSON.parse(text) : null] as const;
      };
      const token = agent.get<WebService>("web").deps.setup.token!;
      const [s0, b0] = await call("POST", "/api/auth/setup", {
        token,
        username: "admin",
        password: PW,
      });
      assert.equal(s0, 201);
      xsrf = b0.xsrf;
      assert.equal(
        (await call("POST", "/api/users", { username: "ivy", password: PW, role: "user" }))[0],
        201,
      );

      const good = await w.peer.issue({ cn: "installer-1" });
      const other = await w.peer.issue({ cn: "x" });
      const [sb, bb] = await call("POST", "/api/provision/identity", {
        bundle: good.certPem + other.keyPem,
      });
      assert.equal(sb, 400);
      assert.match(bb.error.message, /does not belong/);
      assert.equal((await call("POST", "/api/provision/identity", { bundle: "junk" }))[0], 400);
      assert.throws(() => identityOf(w.stateDir), "nothing installed");

      // A user may look but not install.
      const admin = { cookie, xsrf };
      cookie = "";
      xsrf = "";
      const [sl, bl] = await call("POST", "/api/auth/login", { username: "ivy", password: PW });
      assert.equal(sl, 200);
      xsrf = bl.xsrf;
      assert.equal((await call("GET", "/api/provision"))[0], 200);
      assert.equal(
        (await call("POST", "/api/provision/identity", { bundle: good.certPem + good.keyPem }))[0],
        403,
      );
      ({ cookie, xsrf } = admin);

      const [s1, b1] = await call("POST", "/api/provision/identity", {
        bundle: good.certPem + good.keyPem,
        thing: "pump-9",
      });
      assert.equal(s1, 200, JSON.stringify(b1));
      assert.equal(b1.thing, "pump-9");
      assert.ok(!JSON.stringify(b1).includes("PRIVATE KEY"));
      await until(() => state("mqtt") === "running", { ms: 10_000 });
      await until(
        () =>
          (agent.states(true).find((s) => s.name === "mqtt")?.details as { connected?: boolean })
            ?.connected === true,
        { ms: 10_000 },
      );
      await logged(w, /as pump-9 \(.*u'installer-1'\)/);
      for (const f of identityFiles(w.stateDir)) assert.equal(f.mode, 0o600);
      const [s2, b2] = await call("GET", "/api/status");
      assert.equal(s2, 200);
      const prov = b2.services.find((s: { name: string }) => s.name === "provision");
      assert.equal(prov.details.thing, "pump-9");
      assert.equal(prov.details.lastResult.purpose, "install");
      assert.match(prov.details.notAfter, /^\d{4}-/);
    } finally {
      await agent.stop();
    }
    using db = Database.open({ path: join(w.stateDir, "tern.db"), purgeInterval: 0 });
    const ev = new AuditLog(db, { create: false }).list({ action: "provision." });
    assert.equal(ev.length, 1);
    assert.equal(ev[0]!.action, "provision.install");
    assert.deepEqual(ev[0]!.actor, { type: "user", id: "admin" });
    assert.ok(!JSON.stringify(ev).includes("PRIVATE KEY"));
  },
});
