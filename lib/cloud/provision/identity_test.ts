import assert from "node:assert/strict";
import { join } from "../../path.ts";
import { IdentityStore } from "./identity.ts";

Deno.test("an identity store is only created by its first write; reading or sweeping a missing one leaves no trace", () => {
  const state = Deno.makeTempDirSync();
  try {
    const dir = join(state, "identity");
    const store = new IdentityStore(dir);
    assert.equal(store.current(), undefined);
    assert.equal(store.read("cert-x.pem"), undefined);
    assert.deepEqual(store.sweep(), []);
    assert.throws(() => Deno.statSync(dir), Deno.errors.NotFound);

    const id = store.commit({ thing: "t1", certificateId: "abc123", certPem: "C", keyPem: "K" }, 5);
    assert.equal(Deno.statSync(dir).mode! & 0o777, 0o700);
    assert.equal(Deno.statSync(join(dir, id.key)).mode! & 0o777, 0o600);
    const cur = store.current();
    assert.equal(cur?.thing, "t1");
    assert.equal(cur?.certPem, "C");
    assert.equal(cur?.keyPem, "K");
    Deno.writeTextFileSync(join(dir, "stray.pem"), "x");
    assert.deepEqual(store.sweep(), ["stray.pem"]);
    assert.deepEqual(Deno.readDirSync(dir).toArray().map((e) => e.name).sort(), [
      "cert-abc123.pem",
      "identity.json",
      "key-abc123.pem",
    ]);
  } finally {
    Deno.removeSync(state, { recursive: true });
  }
});
