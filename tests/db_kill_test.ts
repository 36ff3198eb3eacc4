/**
 * Crash safety, the way a user would check it: a child process writes in a
 * loop and reports each acknowledged key; we `kill -9` it at a random moment,
 * 50 times. After each kill the database opens, `PRAGMA integrity_check` is
 * ok, every acknowledged key is there, and the change log has no gap (its
 * seqs are consecutive and match the writes).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Database } from "../lib/db/mod.ts";
import { KILL_SCHEMA } from "./db_kill_writer.ts";
import { forEachLine, killAndCheck, spawnDeno } from "./helpers/process.ts";

const ROUNDS = 50;
const WRITER = new URL("./db_kill_writer.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;
const FLAGS = [`--config=${CONFIG}`, "--allow-read", "--allow-write"];

Deno.test("kill -9 at random moments loses no acknowledged write and corrupts nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tern_db_kill_" });
  const path = join(dir, "kill.db");
  const acked = new Set<string>();
  let next = 1;
  let killedWhileWriting = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const child = spawnDeno(FLAGS, WRITER, [path, String(next)]);
      // Kill at a random moment: some rounds before the database is even open.
      const lines: string[] = [];
      let writing = () => {};
      const isWriting = new Promise<void>((r) => writing = r);
      const reader = forEachLine(child.stdout, (p) => {
        if (p === "ready") return;
        lines.push(p);
        writing();
      });
      const stderr = new Response(child.stderr).text();
      const early = round % 10 === 3;
      if (!early) await Promise.race([isWriting, child.status]); // then kill mid-stream
      await new Promise((r) => setTimeout(r, early ? Math.random() * 150 : 5 + Math.random() * 60));
      await killAndCheck(child, reader, stderr, "writer");
      for (const l of lines) acked.add(l.slice(4));
      if (lines.length > 0) killedWhileWriting++;
      next += 1000 + lines.length * 2; // never reuse a key from an unacknowledged, possibly committed write

      const db = Database.open({ path, schema: KILL_SCHEMA, purgeInterval: 0 });
      try {
        const check = db.sql.prepare("PRAGMA integrity_check").all();
        assert.deepEqual(
          check.map((r) => ({ ...r })),
          [{ integrity_check: "ok" }],
          `round ${round}`,
        );
        const present = new Set(
          (db.sql.prepare("SELECT sk FROM _items WHERE model = 'Event'").all() as { sk: string }[])
            .map((r) => r.sk.slice("Event#".length)),
        );
        for (const k of acked) {
          assert.ok(present.has(k), `round ${round}: acknowledged key ${k} lost`);
        }
        const seqs = db.sql.prepare("SELECT seq FROM _changes ORDER BY seq").all() as {
          seq: number;
        }[];
        seqs.forEach((r, i) => assert.equal(r.seq, i + 1, `round ${round}: gap in the change log`));
        const updates = Number(
          (db.sql.prepare("SELECT count(*) AS n FROM _changes WHERE op = 'update'").get() as {
            n: number;
          }).n,
        );
        assert.equal(
          seqs.length,
          present.size + updates,
          `round ${round}: writes without a change row`,
        );
        const indexed = Number(
          (db.sql.prepare("SELECT count(*) AS n FROM _index").get() as { n: number }).n,
        );
        assert.equal(indexed, present.size, `round ${round}: index out of step with items`);
      } finally {
        db.close();
      }
    }
    assert.ok(
      acked.size > 100,
      `only ${acked.size} acknowledged writes: the test did not exercise much`,
    );
    assert.ok(
      killedWhileWriting >= ROUNDS / 2,
      `only ${killedWhileWriting} kills hit a writing child`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
