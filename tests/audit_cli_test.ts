/**
 * `tern audit verify|list|export` on a real database file, and the CLI's own
 * changes as audit events: tampering with the `_audit` table (editing a row,
 * editing it and fixing its hash, deleting a row or the newest ones,
 * reordering two rows) is detected and the first broken link named (exit 1);
 * `tern token create|revoke` and `tern user remove` each record one event
 * (actor cli, source cli); bad options get a clear error (exit 64).
 */

import assert from "node:assert/strict";
import { cli, type CliIo } from "../lib/cli/mod.ts";
import { systemClock } from "../lib/clock.ts";
import { AuditTrail } from "../lib/cloud/audit/mod.ts";
import { AuditLog, Database, sha256HexSync } from "../lib/db/mod.ts";
import { AuthStore } from "../lib/web/mod.ts";

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (t) => out.push(t), err: (t) => err.push(t) };
  const code = await cli(args, { services: [] }, io);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** A state dir whose database holds `n` events. */
async function stateWith(n: number): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "tern_audit_cli_" });
  using db = Database.open({ path: `${dir}/tern.db`, purgeInterval: 0 });
  const trail = new AuditTrail({ db, clock: systemClock, device: "d1" });
  for (let i = 1; i <= n; i++) {
    trail.record({
      actor: { type: "user", id: i % 2 ? "alice" : "bob" },
      source: "192.0.2.9",
      action: i % 3 ? "auth.login" : "user.update",
      outcome: i === 2 ? "failure" : "success",
      details: { i },
    });
  }
  return dir;
}

function tamper(dir: string, sql: string, ...params: (string | number)[]): void {
  using db = Database.open({ path: `${dir}/tern.db`, purgeInterval: 0 });
  db.sql.prepare(sql).run(...params);
}

const verify = (dir: string) => run(["audit", "verify", "--state", dir]);

Deno.test("tern audit verify passes an intact chain and names the first broken link of a tampered one", async () => {
  const dirs: string[] = [];
  const fresh = async () => {
    const d = await stateWith(6);
    dirs.push(d);
    return d;
  };
  try {
    let d = await fresh();
    let r = await verify(d);
    assert.equal(r.code, 0);
    assert.match(r.out, /ok: 6 events, chain intact up to seq 6/);

    // Edit a row's data.
    d = await fresh();
    tamper(d, "UPDATE _audit SET data = replace(data, 'bob', 'eve') WHERE seq = 4");
    r = await verify(d);
    assert.equal(r.code, 1);
    assert.match(r.out, /BROKEN at seq 4 .*does not match its hash \(edited\); 3 events before/);

    // Edit a row and fix its hash: the next link breaks.
    d = await fresh();
    {
      using db = Database.open({ path: `${d}/tern.db`, purgeInterval: 0 });
      const row = db.sql.prepare("SELECT data FROM _audit WHERE seq = 3").get() as { data: string };
      const data = row.data.replace('"i":3', '"i":33');
      db.sql.prepare("UPDATE _audit SET data = ?, hash = ? WHERE seq = 3").run(
        data,
        sha256HexSync(data),
      );
    }
    r = await verify(d);
    assert.equal(r.code, 1);
    assert.match(r.out, /BROKEN at seq 4 .*prev is not the hash of the event before it/);

    // Edit only a filter column.
    d = await fresh();
    tamper(d, "UPDATE _audit SET outcome = 'success' WHERE seq = 2");
    r = await verify(d);
    assert.match(r.out, /BROKEN at seq 2 .*columns disagree with its data/);

    // Delete a row in the middle.
    d = await fresh();
    tamper(d, "DELETE FROM _audit WHERE seq = 3");
    r = await verify(d);
    assert.equal(r.code, 1);
    assert.match(r.out, /BROKEN at seq 4 .*events 3–3 are missing \(deleted\)/);

    // Delete the newest rows.
    d = await fresh();
    tamper(d, "DELETE FROM _audit WHERE seq >= 5");
    r = await verify(d);
    assert.equal(r.code, 1);
    assert.match(r.out, /BROKEN at seq 5: the newest events up to 6 are missing \(deleted\)/);

    // Reorder two rows (swap their contents, keep the seq column).
    d = await fresh();
    {
      using db = Database.open({ path: `${d}/tern.db`, purgeInterval: 0 });
      const get = (s: number) =>
        db.sql.prepare("SELECT * FROM _audit WHERE seq = ?").get(s) as Record<string, string>;
      const [a, b] = [get(2), get(3)];
      db.transaction(() => {
        db.sql.exec("DELETE FROM _audit WHERE seq IN (2, 3)");
        const ins = db.sql.prepare(
          "INSERT INTO _audit (seq, id, time, action, actor, outcome, data, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        );
        for (const [seq, r] of [[2, b], [3, a]] as const) {
          ins.run(seq, r.id!, r.time!, r.action!, r.actor!, r.outcome!, r.data!, r.hash!);
        }
      });
    }
    r = await verify(d);
    assert.equal(r.code, 1);
    assert.match(r.out, /BROKEN at seq 2 .*prev is not the hash of the event before it/);
  } finally {
    for (const d of dirs) await Deno.remove(d, { recursive: true }).catch(() => {});
  }
});

Deno.test("tern audit list and export filter events; bad options are usage errors", async () => {
  const d = await stateWith(6);
  try {
    let r = await run(["audit", "list", "--state", d, "--actor", "user:alice", "--json"]);
    assert.equal(r.code, 0);
    const alice = r.out.split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(alice.map((e) => e.seq), [1, 3, 5]);
    r = await run(["audit", "list", "--state", d, "--outcome", "failure"]);
    assert.match(r.out, /^\s+2 \S+ failure auth\.login user:bob from 192\.0\.2\.9/);
    r = await run(["audit", "list", "--state", d, "--limit", "2", "--json"]);
    assert.deepEqual(r.out.split("\n").map((l) => JSON.parse(l).seq), [5, 6]);
    r = await run(["audit", "export", "--state", d, "--action", "user."]);
    assert.deepEqual(r.out.split("\n").map((l) => JSON.parse(l).seq), [3, 6]);
    for (
      const [args, msg] of [
        [["audit", "list", "--since", "yesterday"], /--since needs an ISO 8601 time/],
        [["audit", "list", "--outcome", "meh"], /--outcome must be success, failure or denied/],
        [["audit", "export", "--limit", "3"], /export takes every matching event/],
        [["audit", "verify", "extra"], /Unexpected argument "extra"/],
        [["audit", "shred"], /Unknown subcommand "shred"/],
      ] as const
    ) {
      r = await run([...args, "--state", d]);
      assert.equal(r.code, 64, args.join(" "));
      assert.match(r.err, msg);
    }
    r = await verify(d);
    assert.equal(r.code, 0, "nothing changed");
  } finally {
    await Deno.remove(d, { recursive: true }).catch(() => {});
  }
});

Deno.test("tern token create/revoke and tern user remove are one audit event each, actor cli", async () => {
  const d = await stateWith(1);
  try {
    {
      using db = Database.open({ path: `${d}/tern.db`, purgeInterval: 0 });
      new AuthStore(db).createUser({ username: "carol", role: "user", passwordHash: "x" });
    }
    const created = await run(["token", "create", "--name", "ci", "--role", "user", "--state", d]);
    assert.equal(created.code, 0);
    const token = created.out.trim();
    assert.equal((await run(["token", "revoke", token.slice(0, 12), "--state", d])).code, 0);
    assert.equal((await run(["token", "revoke", "tern_nothere", "--state", d])).code, 1);
    assert.equal((await run(["user", "remove", "carol", "--state", d])).code, 0);
    using db = Database.open({ path: `${d}/tern.db`, purgeInterval: 0 });
    const events = new AuditLog(db).list({ after: 1 });
    assert.deepEqual(
      events.map((e) => [e.action, e.actor.type, e.source, e.target]),
      [
        ["token.create", "cli", "cli", "token:ci"],
        ["token.revoke", "cli", "cli", "token:ci"],
        ["user.remove", "cli", "cli", "user:carol"],
      ],
    );
    assert.ok(!JSON.stringify(events).includes(token), "the token never reaches an event");
    assert.equal(new AuditLog(db).verify().ok, true);
  } finally {
    await Deno.remove(d, { recursive: true }).catch(() => {});
  }
});
