/**
 * Database benchmark: Tern's `Database` against raw `node:sqlite` running the
 * same statements on the same table layout with the same pragmas, in the same
 * process, alternating chunk by chunk within each round; the median round of each is compared.
 *
 * Cases: a single durable create (synchronous=FULL, one fsynced commit each),
 * a single create with the default synchronous=NORMAL, 1,000 creates in one
 * transaction, get by key, and a 100-item range find.
 *
 * Run: deno run --allow-all tests/bench/db_bench.ts [--quick] [CASE-NAME-PART]
 * Writes tests/bench/results/db.md.
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { join } from "node:path";
import { Database } from "../../lib/db/mod.ts";
import { DDL, pragmas } from "../../lib/db/_sql.ts";

const quick = Deno.args.includes("--quick");
/** Run only the cases whose name contains this text (no results file is written). */
const only = Deno.args.find((a) => !a.startsWith("--"));
const ROUNDS = quick ? 3 : 11;

const SCHEMA = {
  Reading: {
    pk: "Sensor#${deviceId}",
    sk: "Reading#${time}",
    fields: {
      deviceId: { type: "string", required: true },
      time: { type: "date", required: true },
      value: { type: "number" },
      unit: { type: "string", enum: ["C", "F"], default: "C" },
    },
  },
} as const;

const INSERT_ITEM = "INSERT INTO _items (model, pk, sk, version, created, expires, data) " +
  "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model, pk, sk) DO UPDATE SET version = excluded.version, " +
  "created = excluded.created, expires = excluded.expires, data = excluded.data " +
  "WHERE _items.expires IS NOT NULL AND _items.expires <= ?";
const INSERT_CHANGE =
  "INSERT INTO _changes (model, pk, sk, op, version, time, origin) VALUES (?, ?, ?, ?, ?, ?, ?)";
const GET = "SELECT data FROM _items WHERE model = ? AND pk = ? AND sk = ? " +
  "AND (expires IS NULL OR expires > ?)";
const RANGE = "SELECT i.pk, i.sk, i.data FROM _items i WHERE i.model = ? AND i.pk = ? " +
  "AND i.sk >= ? AND i.sk < ? AND (i.expires IS NULL OR i.expires > ?) ORDER BY i.pk, i.sk LIMIT ?";

/** The same writes and reads, by hand, on a raw connection. */
class Raw {
  db: DatabaseSync;
  #s = new Map<string, StatementSync>();
  constructor(path: string, sync: "NORMAL" | "FULL") {
    this.db = new DatabaseSync(path);
    this.db.exec(pragmas(sync, 5000));
    this.db.exec(DDL);
  }
  st(sql: string): StatementSync {
    let s = this.#s.get(sql);
    if (!s) this.#s.set(sql, s = this.db.prepare(sql));
    return s;
  }
  insert(deviceId: string, time: string, value: number): void {
    const now = Date.now();
    const iso = new Date(now).toISOString();
    const pk = `Sensor#${deviceId}`;
    const sk = `Reading#${time}`;
    const data = JSON.stringify({
      deviceId,
      time,
      value,
      unit: "C",
      created: iso,
      updated: iso,
      _version: 1,
    });
    this.st(INSERT_ITEM).run("Reading", pk, sk, 1, now, null, data, now);
    this.st(INSERT_CHANGE).run("Reading", pk, sk, "create", 1, iso, "local");
  }
  tx(fn: () => void): void {
    this.st("BEGIN IMMEDIATE").run();
    try {
      fn();
      this.st("COMMIT").run();
    } catch (e) {
      this.st("ROLLBACK").run();
      throw e;
    }
  }
  get(deviceId: string, time: string): unknown {
    const row = this.st(GET).get("Reading", `Sensor#${deviceId}`, `Reading#${time}`, Date.now()) as
      | { data: string }
      | undefined;
    return row ? JSON.parse(row.data) : undefined;
  }
  range(deviceId: string, from: string, limit: number): unknown[] {
    const prefix = "Reading#";
    const rows = this.st(RANGE).all(
      "Reading",
      `Sensor#${deviceId}`,
      prefix + from,
      prefix + "\u{10FFFF}",
      Date.now(),
      limit + 1,
    ) as { data: string }[];
    return rows.slice(0, limit).map((r) => JSON.parse(r.data));
  }
  close(): void {
    this.db.close();
  }
}

const time = (i: number) => new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString();

function measure(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Case {
  name: string;
  /** Operations per round. */
  ops: number;
  /** Operations per timed chunk: Tern and raw alternate chunk by chunk, so load drift hits both. */
  chunk: number;
  sync: "NORMAL" | "FULL";
  /** Run operations [from, to) of a round. */
  tern: (db: Database, round: number, from: number, to: number) => void;
  raw: (db: Raw, round: number, from: number, to: number) => void;
  /** Prepare both databases before timing (seed data). */
  seed?: { tern: (db: Database) => void; raw: (db: Raw) => void };
}

const SEED = 2000;
const seedTern = (db: Database) =>
  db.transaction(() => {
    for (let i = 0; i < SEED; i++) db.create("Reading", { deviceId: "s", time: time(i), value: i });
  });
const seedRaw = (db: Raw) =>
  db.tx(() => {
    for (let i = 0; i < SEED; i++) db.insert("s", time(i), i);
  });

const cases: Case[] = [
  {
    name: "single durable create (synchronous=FULL)",
    ops: quick ? 50 : 200,
    chunk: 1,
    sync: "FULL",
    tern: (db, r, from, to) => {
      for (let i = from; i < to; i++) {
        db.create("Reading", { deviceId: `r${r}`, time: time(i), value: i });
      }
    },
    raw: (db, r, from, to) => {
      for (let i = from; i < to; i++) db.tx(() => db.insert(`r${r}`, time(i), i));
    },
  },
  {
    name: "single create (synchronous=NORMAL)",
    ops: 2000,
    chunk: 10,
    sync: "NORMAL",
    tern: (db, r, from, to) => {
      for (let i = from; i < to; i++) {
        db.create("Reading", { deviceId: `r${r}`, time: time(i), value: i });
      }
    },
    raw: (db, r, from, to) => {
      for (let i = from; i < to; i++) db.tx(() => db.insert(`r${r}`, time(i), i));
    },
  },
  {
    name: "1,000 creates in one transaction",
    ops: 1000,
    chunk: 1000,
    sync: "NORMAL",
    tern: (db, r) =>
      db.transaction(() => {
        for (let i = 0; i < 1000; i++) {
          db.create("Reading", { deviceId: `t${r}`, time: time(i), value: i });
        }
      }),
    raw: (db, r) =>
      db.tx(() => {
        for (let i = 0; i < 1000; i++) db.insert(`t${r}`, time(i), i);
      }),
  },
  {
    name: "get by key",
    ops: 20_000,
    chunk: 500,
    sync: "NORMAL",
    seed: { tern: seedTern, raw: seedRaw },
    tern: (db, _r, from, to) => {
      for (let i = from; i < to; i++) {
        if (!db.get("Reading", { deviceId: "s", time: time(i % SEED) })) throw new Error("miss");
      }
    },
    raw: (db, _r, from, to) => {
      for (let i = from; i < to; i++) {
        if (!db.get("s", time(i % SEED))) throw new Error("miss");
      }
    },
  },
  {
    name: "100-item range find",
    ops: 1000,
    chunk: 25,
    sync: "NORMAL",
    seed: { tern: seedTern, raw: seedRaw },
    tern: (db, _r, from, to) => {
      for (let i = from; i < to; i++) {
        const start = time((i * 7) % (SEED - 100));
        const page = db.find("Reading", { deviceId: "s", time: { gte: start } }, { limit: 100 });
        if (page.items.length !== 100) throw new Error("short page");
      }
    },
    raw: (db, _r, from, to) => {
      for (let i = from; i < to; i++) {
        const start = time((i * 7) % (SEED - 100));
        if (db.range("s", start, 100).length !== 100) throw new Error("short page");
      }
    },
  },
];

const dir = await Deno.makeTempDir({ prefix: "tern_db_bench_" });
const rows: string[] = [];
try {
  for (const c of cases.filter((c) => only === undefined || c.name.includes(only))) {
    const tern = Database.open({
      path: join(dir, `${c.name.length}-tern.db`),
      schema: SCHEMA,
      synchronous: c.sync,
      purgeInterval: 0,
    });
    const raw = new Raw(join(dir, `${c.name.length}-raw.db`), c.sync);
    c.seed?.tern(tern);
    c.seed?.raw(raw);
    const t: number[] = [];
    const r: number[] = [];
    // Warm-up round (JIT, statement cache), then rounds of alternating chunks.
    c.tern(tern, 99, 0, c.ops);
    c.raw(raw, 99, 0, c.ops);
    for (let round = 0; round < ROUNDS; round++) {
      let tt = 0, rr = 0;
      for (let from = 0, n = 0; from < c.ops; from += c.chunk, n++) {
        const to = Math.min(c.ops, from + c.chunk);
        if ((round + n) % 2 === 0) {
          tt += measure(() => c.tern(tern, round, from, to));
          rr += measure(() => c.raw(raw, round, from, to));
        } else {
          rr += measure(() => c.raw(raw, round, from, to));
          tt += measure(() => c.tern(tern, round, from, to));
        }
      }
      t.push(tt);
      r.push(rr);
    }
    tern.close();
    raw.close();
    const tm = median(t), rm = median(r);
    const opsT = c.ops / (tm / 1000), opsR = c.ops / (rm / 1000);
    const row = `| ${c.name} | ${Math.round(opsT).toLocaleString("en")} | ${
      Math.round(opsR).toLocaleString("en")
    } | ${(opsT / opsR).toFixed(2)} |`;
    console.log(row);
    rows.push(row);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

const table =
  `| case | Tern ops/s | raw node:sqlite ops/s | ratio (Tern / raw) |\n|---|---:|---:|---:|\n${
    rows.join("\n")
  }`;
console.log("\n" + table);
if (!quick && only === undefined) {
  const out = new URL("./results/db.md", import.meta.url).pathname;
  let load = "";
  try {
    load = ` Load average during the run: ${
      Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(", ")
    } (shared machine: single runs vary by ±20%).`;
  } catch { /* not Linux */ }
  Deno.writeTextFileSync(
    out,
    `## Database (lib/db vs raw node:sqlite)\n\nCommand: \`deno run --allow-all tests/bench/db_bench.ts\` ` +
      `(Deno ${Deno.version.deno}, SQLite WAL, same statements and pragmas on both sides; median of ${ROUNDS} ` +
      `rounds, Tern and raw alternating chunk by chunk within each round; ops/s counts items written or calls made).${load}\n\n${table}\n`,
  );
  console.log(`Wrote ${out}`);
}
