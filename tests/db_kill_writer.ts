/**
 * Child process of tests/db_kill_test.ts: writes to the database in a loop
 * and prints "ack KEY" on stdout after each commit, until it is killed.
 * Usage: deno run --allow-read --allow-write tests/db_kill_writer.ts DB_PATH START
 */

import { Database } from "../lib/db/mod.ts";

export const KILL_SCHEMA = {
  Event: {
    pk: "Dev#${dev}",
    sk: "Event#${n}",
    fields: {
      dev: { type: "string", required: true },
      n: { type: "string", required: true },
      payload: { type: "string" },
      count: { type: "number" },
    },
    indexes: { byCount: { sk: "${count}" } },
  },
} as const;

if (import.meta.main) {
  const [path, startText] = Deno.args;
  const enc = new TextEncoder();
  const out = (s: string) => Deno.stdout.writeSync(enc.encode(s + "\n"));
  const db = Database.open({ path: path!, schema: KILL_SCHEMA, purgeInterval: 0 });
  out("ready");
  const payload = "x".repeat(200);
  for (let i = Number(startText);; i++) {
    const n = String(i).padStart(8, "0");
    if (i % 7 === 0) {
      // A multi-statement transaction: three items and an update, all or nothing.
      const keys = [n + "a", n + "b", n + "c"];
      db.transaction(() => {
        for (const k of keys) db.create("Event", { dev: "d1", n: k, payload, count: i });
        db.update("Event", { dev: "d1", n: keys[0] }, { count: i + 1 });
      });
      for (const k of keys) out(`ack ${k}`);
    } else {
      db.create("Event", { dev: "d1", n, payload, count: i });
      out(`ack ${n}`);
    }
  }
}
