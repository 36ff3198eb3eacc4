/**
 * `tern provision --cert --key` with files placed by the factory: checked
 * (a key of another certificate, an expired certificate, not PEM: exit 1,
 * nothing written), installed 0600, then an agent with provisioning on and
 * no claim certificate connects with it to mosquitto (mTLS) at once;
 * `tern provision status` shows it.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { provisionCommand } from "../lib/cli/provision.ts";
import { UsageError } from "../lib/cli/mod.ts";
import { skipWithout } from "./helpers/peers.ts";
import { identityFiles, identityOf, logged, provisionWorld } from "./provision_helpers.ts";

const ignore = skipWithout("mosquitto", import.meta.url);

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) },
    out,
    err,
  };
}

Deno.test({
  name:
    "tern provision --cert --key installs factory files after checking them; the agent connects with them",
  ignore,
  fn: async () => {
    await using w = await provisionWorld();
    const cfg = join(w.dir, "config");
    await Deno.mkdir(cfg);
    const input = w.input();
    delete (input.provision as Record<string, unknown>).claim;
    await Deno.writeTextFile(join(cfg, "tern.json5"), JSON.stringify(input));
    const flags = { config: cfg, state: w.stateDir };
    const good = await w.peer.issue({ cn: "factory-7" });
    const other = await w.peer.issue({ cn: "other" });
    const expired = await w.peer.issue({
      cn: "old",
      notBefore: new Date(Date.now() - 3 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    const f = (name: string, text: string) => {
      const p = join(w.dir, name);
      Deno.writeTextFileSync(p, text);
      return p;
    };
    const bad = [
      [f("a.crt", good.certPem), f("a.key", other.keyPem), /does not belong/],
      [f("b.crt", expired.certPem), f("b.key", expired.keyPem), /expired/],
      [f("c.crt", "hello"), f("c.key", good.keyPem), /Not a PEM certificate/],
    ] as const;
    for (const [cert, key, why] of bad) {
      const c = capture();
      assert.equal(await provisionCommand.run(["--cert", cert, "--key", key], flags, c.io), 1);
      assert.match(c.err.join("\n"), why);
      assert.throws(() => identityOf(w.stateDir), "nothing installed");
    }
    await assert.rejects(provisionCommand.run(["--cert", "x"], flags, capture().io), UsageError);
    const c = capture();
    const code = await provisionCommand.run(
      ["--cert", f("g.crt", good.certPem), "--key", f("g.key", good.keyPem), "--thing", "pump-7"],
      flags,
      c.io,
    );
    assert.equal(code, 0, c.err.join("\n"));
    assert.match(c.out[0]!, /Installed the identity of thing "pump-7"/);
    assert.ok(!c.out.join("").includes(good.keyPem.split("\n")[1]!), "the key is not printed");
    for (const file of identityFiles(w.stateDir)) assert.equal(file.mode, 0o600);
    assert.equal(identityOf(w.stateDir).thing, "pump-7");

    await using a = await w.agent({ provision: { claim: undefined } });
    await w.connected(a);
    assert.equal(a.mqtt().clientId, "pump-7");
    assert.equal(w.peer.received.length, 0, "no provisioning request");
    await logged(w, /as pump-7 \(.*u'factory-7'\)/);

    const s = capture();
    assert.equal(await provisionCommand.run(["status", "--json"], flags, s.io), 0);
    const st = JSON.parse(s.out[0]!);
    assert.equal(st.identity.thing, "pump-7");
    assert.equal(st.lastResult.purpose, "install");
    assert.match(st.identity.nextRotation, /^\d{4}-/);
  },
});
