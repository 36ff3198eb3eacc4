import assert from "node:assert/strict";
import { AuditLog } from "./audit.ts";
import { Database } from "./database.ts";
import { sha256Base64Sync, sha256HexSync } from "./_sha256.ts";

const event = (i: number) => ({
  id: `01J000000000000000000000${String(i).padStart(2, "0")}`,
  time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
  actor: { type: "user" as const, id: "alice" },
  source: "192.0.2.1",
  action: "auth.login",
  outcome: "success" as const,
  device: "d1",
});

Deno.test("sha256HexSync matches WebCrypto for empty, short, block-edge and long UTF-8 input", async () => {
  for (const s of ["", "abc", "a".repeat(55), "a".repeat(56), "a".repeat(64), "é€😀".repeat(500)]) {
    const want = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)))
      .toHex();
    assert.equal(sha256HexSync(s), want, `length ${s.length}`);
    assert.equal(
      sha256Base64Sync(s),
      new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)))
        .toBase64(),
    );
  }
});

Deno.test("append() chains each event to the previous one's hash; verify() passes", () => {
  using db = Database.open({ path: ":memory:", purgeInterval: 0 });
  const log = new AuditLog(db);
  const rows = [1, 2, 3].map((i) => log.append(event(i)));
  assert.equal(rows[0]!.event.prev, "0".repeat(64));
  assert.equal(rows[1]!.event.prev, rows[0]!.hash);
  assert.equal(rows[2]!.event.seq, 3);
  assert.equal(rows[2]!.hash, sha256HexSync(rows[2]!.data));
  assert.deepEqual(log.verify(), { ok: true, checked: 3, lastSeq: 3 });
});

Deno.test("prune() keeps what is not shipped and moves the anchor so the rest still verifies", () => {
  using db = Database.open({ path: ":memory:", purgeInterval: 0 });
  const log = new AuditLog(db);
  for (let i = 1; i <= 10; i++) log.append(event(i));
  // Bounds want 7 gone, but seq 5 on is not shipped: 4 go, 3 are held.
  assert.deepEqual(log.prune({ maxEvents: 3, before: 0, keepFrom: 5 }), { pruned: 4, held: 3 });
  assert.deepEqual(log.stats(), { count: 6, first: 5, last: 10 });
  assert.equal(log.verify().ok, true);
  assert.deepEqual(log.prune({ maxEvents: 3, before: 0, keepFrom: Infinity }), {
    pruned: 3,
    held: 0,
  });
  assert.deepEqual(log.verify(), { ok: true, checked: 3, lastSeq: 10 });
  log.append(event(11));
  assert.equal(log.verify().ok, true);
});
