import assert from "node:assert/strict";
import { FakeClock } from "../clock.ts";
import { Database } from "../db/mod.ts";
import { LogHub, RingSink } from "../log/mod.ts";
import { Spool, spoolStatus } from "./spool.ts";

function setup() {
  const db = Database.open({ path: ":memory:", purgeInterval: 0 });
  const ring = new RingSink();
  const clock = new FakeClock(1_700_000_000_000);
  const spool = Spool.of(db, { clock, log: new LogHub({ sinks: [ring] }).logger("spool") });
  return { db, ring, clock, spool };
}

Deno.test("append, peek within limits and ack delete exactly the acked records", () => {
  const { db, spool } = setup();
  using _db = db;
  const s = spool.stream("logs.test");
  s.append([{ data: "a" }, { data: "bb" }, { data: "ccc", time: 5 }]);
  assert.equal(s.backlog, 3);
  const all = s.peek();
  assert.deepEqual(all.map((r) => r.data), ["a", "bb", "ccc"]);
  assert.equal(all[2]!.time, 5);
  assert.deepEqual(s.peek({ maxRecords: 2 }).map((r) => r.data), ["a", "bb"]);
  // 1+10 + 2+10 = 23 fits in 25; the third (3+10) does not.
  assert.deepEqual(s.peek({ maxBytes: 25, overhead: 10 }).map((r) => r.data), ["a", "bb"]);
  // One record always comes out even when it alone passes the byte limit.
  assert.deepEqual(s.peek({ maxBytes: 1, overhead: 10 }).map((r) => r.data), ["a"]);
  s.ack(all[1]!.id);
  assert.deepEqual(s.peek().map((r) => r.data), ["ccc"]);
  const st = s.status();
  assert.equal(st.backlog, 1);
  assert.equal(st.sent, 2);
  assert.equal(st.appended, 3);
  assert.ok(st.lastAckAt !== null);
  assert.equal(spool.stream("logs.test"), s, "one object per stream");
});

Deno.test("a full stream drops the oldest records, counts them and warns once per episode", async () => {
  const { db, spool, ring } = setup();
  using _db = db;
  const s = spool.stream("full", { maxRecords: 10, maxBytes: 1000 });
  for (let i = 0; i < 25; i++) s.append([{ data: `r${i}` }]);
  await Promise.resolve();
  assert.equal(s.backlog, 10);
  assert.deepEqual(s.peek().map((r) => r.data), Array.from({ length: 10 }, (_, i) => `r${i + 15}`));
  assert.equal(s.status().dropped, 15);
  const warns = ring.entries({ level: "warn" }).map((r) => r.msg);
  assert.deepEqual(warns, ['Spool stream "full" is full: dropping the oldest records']);
  // Draining below half ends the episode with one summary line.
  s.ack(s.peek({ maxRecords: 8 }).at(-1)!.id);
  assert.equal(
    ring.entries({ level: "warn" }).at(-1)!.msg,
    'Spool stream "full" dropped 15 records while it was full',
  );
  // Bytes bound too.
  const b = spool.stream("bytes", { maxRecords: 100, maxBytes: 10 });
  b.append([{ data: "12345" }, { data: "67890" }, { data: "abc" }]);
  assert.deepEqual(b.peek().map((r) => r.data), ["67890", "abc"]);
  assert.throws(() => b.append([{ data: "x".repeat(11) }]), RangeError);
});

Deno.test("source state commits with the records, and rolls back with the caller's transaction", () => {
  const { db, spool } = setup();
  using _db = db;
  const s = spool.stream("file");
  s.append([{ data: "line 1" }], { offset: "7" });
  assert.equal(s.state("offset"), "7");
  assert.throws(() =>
    db.transaction(() => {
      s.append([{ data: "line 2" }], { offset: "14" });
      throw new Error("caller failed");
    })
  );
  assert.equal(s.state("offset"), "7");
  assert.equal(s.backlog, 1);
  assert.deepEqual(s.peek().map((r) => r.data), ["line 1"]);
  s.setState({ offset: null, cursor: "c1" });
  assert.deepEqual(s.states(), { cursor: "c1" });
});

Deno.test("begin marks a batch in flight until it is acked or abandoned", () => {
  const { db, spool } = setup();
  using _db = db;
  const s = spool.stream("x");
  const last = s.append([{ data: "a" }, { data: "b" }]);
  assert.equal(s.inflight(), undefined);
  s.begin(last, '{"n":2}');
  assert.deepEqual(s.inflight(), { upTo: last, meta: '{"n":2}', at: 1_700_000_000_000 });
  s.abandon();
  assert.equal(s.inflight(), undefined);
  s.begin(last, "m");
  s.fail("boom");
  s.ack(last);
  assert.equal(s.inflight(), undefined);
  const [st] = spoolStatus(db, 1_700_000_000_000);
  assert.equal(st!.name, "x");
  assert.equal(st!.sent, 2);
  assert.equal(st!.lastError, "boom");
});

Deno.test("bad names and bad records are refused and change nothing", () => {
  const { db, spool } = setup();
  using _db = db;
  assert.throws(() => spool.stream("no spaces"), TypeError);
  const s = spool.stream("ok");
  assert.throws(() => s.append([{ data: 5 as unknown as string }]), TypeError);
  assert.throws(() => s.append([{ data: "a" }, { data: "b", time: NaN }]), TypeError);
  assert.equal(s.backlog, 0);
});

Deno.test("changed() resolves at the next append", async () => {
  const { db, spool, clock } = setup();
  using _db = db;
  const s = spool.stream("w");
  let woke = false;
  const p = s.changed().then(() => woke = true);
  await clock.advance(0);
  assert.equal(woke, false);
  s.append([{ data: "x" }]);
  await p;
  assert.equal(woke, true);
  const ac = new AbortController();
  const q = s.changed(ac.signal);
  ac.abort();
  await q;
});

Deno.test("a large append keeps order, ids, times and UTF-8 sizes across insert blocks", () => {
  const { db, spool } = setup();
  using _db = db;
  const s = spool.stream("logs.blocks");
  // 64 + 64 + 8 + 1 rows: every block size, and a remainder.
  const data = Array.from({ length: 137 }, (_, i) => i % 10 === 0 ? `é ${i} 😀` : `line ${i}`);
  const last = s.append(data.map((d, i) => ({ data: d, time: 1000 + i })));
  const rows = s.peek({ maxRecords: 1000 });
  assert.deepEqual(rows.map((r) => r.data), data);
  assert.deepEqual(rows.map((r) => r.time), data.map((_, i) => 1000 + i));
  assert.deepEqual(rows.map((r) => r.bytes), data.map((d) => new TextEncoder().encode(d).length));
  assert.equal(rows.at(-1)!.id, last);
  assert.deepEqual(rows.map((r) => r.id - rows[0]!.id), data.map((_, i) => i));
  assert.equal(s.status().bytes, rows.reduce((n, r) => n + r.bytes, 0));
  // Peeks after an id page through the same records.
  assert.deepEqual(
    s.peek({ maxRecords: 5 }, rows[130]!.id).map((r) => r.data),
    data.slice(131, 136),
  );
});

Deno.test("packs: an append of many records is one row; acks and drops inside it keep the rest with their ids", async () => {
  const { db, spool } = setup();
  using _db = db;
  const s = spool.stream("packs", { maxRecords: 1000, maxBytes: 1_000_000 });
  // Data holding the pack's own separators, newlines, non-ASCII and surrogate pairs.
  const data = Array.from(
    { length: 300 },
    (_, i) =>
      i % 7 === 0 ? `${i}:${i},\n${i}\n😀:,` : i % 11 === 0 ? "" : `line ${i} ${"é".repeat(i % 3)}`,
  );
  const last = s.append(data.map((d, i) => ({ data: d, time: 1000 + i })));
  const rows = db.sql.prepare("SELECT n, k0 FROM _spool").all() as { n: number; k0: number }[];
  assert.deepEqual(rows.map((r) => r.n), [300], "one row for the append");
  const all = s.peek({ maxRecords: 1000 });
  assert.equal(all.length, 300);
  assert.equal(all.at(-1)!.id, last);
  assert.deepEqual(all.map((r) => r.data), data);
  assert.deepEqual(all.map((r) => r.time), data.map((_, i) => 1000 + i));
  assert.equal(all[2]!.bytes, new TextEncoder().encode(data[2]!).length);
  // Peeking after an id inside the pack starts right after it.
  assert.deepEqual(s.peek({ maxRecords: 2 }, all[99]!.id).map((r) => r.data), data.slice(100, 102));

  // An ack inside the pack deletes up to it; the rest keeps its ids, times and sizes.
  s.ack(all[99]!.id);
  assert.equal(s.backlog, 200);
  const rest = s.peek({ maxRecords: 1000 });
  assert.deepEqual(rest.map((r) => r.id), all.slice(100).map((r) => r.id));
  assert.deepEqual(rest.map((r) => r.data), data.slice(100));
  assert.equal(s.status().oldestAgeMs, spool.clock.now() - 1100);
  assert.equal(s.status().bytes, rest.reduce((n, r) => n + r.bytes, 0));
  assert.equal(s.status().sent, 100);

  // A full stream drops the oldest records one by one, also inside a pack.
  const f = spool.stream("packs.full", { maxRecords: 50, maxBytes: 1_000_000 });
  f.append(Array.from({ length: 40 }, (_, i) => ({ data: `a${i}` })));
  f.append(Array.from({ length: 30 }, (_, i) => ({ data: `b${i}` })));
  await Promise.resolve();
  assert.equal(f.backlog, 50);
  assert.equal(f.status().dropped, 20);
  assert.deepEqual(
    f.peek({ maxRecords: 100 }).map((r) => r.data),
    [
      ...Array.from({ length: 20 }, (_, i) => `a${i + 20}`),
      ...Array.from({ length: 30 }, (_, i) => `b${i}`),
    ],
  );
  // An append larger than the bound keeps its newest records only.
  f.append(Array.from({ length: 80 }, (_, i) => ({ data: `c${i}` })));
  assert.deepEqual(
    f.peek({ maxRecords: 100 }).map((r) => r.data),
    Array.from({ length: 50 }, (_, i) => `c${i + 30}`),
  );
  assert.equal(f.status().dropped, 100);
  // Acking the last id deletes everything.
  f.ack(f.peek({ maxRecords: 100 }).at(-1)!.id);
  assert.equal(f.backlog, 0);
  assert.equal(
    db.sql.prepare("SELECT COUNT(*) AS c FROM _spool WHERE sid = ?").get(
      (db.sql.prepare("SELECT sid FROM _spool_streams WHERE name = 'packs.full'").get() as {
        sid: number;
      }).sid,
    )!.c,
    0,
  );
});

Deno.test("a spool written before packs is upgraded: its records and in-flight marker keep working", () => {
  const db = Database.open({ path: ":memory:", purgeInterval: 0 });
  using _db = db;
  // The tables as the previous release created them, with two records and a batch in flight.
  db.sql.exec(`
    CREATE TABLE _spool_streams (sid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
      appended INTEGER NOT NULL DEFAULT 0, sent INTEGER NOT NULL DEFAULT 0,
      dropped INTEGER NOT NULL DEFAULT 0, refused INTEGER NOT NULL DEFAULT 0,
      last_error TEXT, last_error_at INTEGER, last_ack_at INTEGER,
      inflight_upto INTEGER, inflight_meta TEXT, inflight_at INTEGER);
    CREATE TABLE _spool (id INTEGER PRIMARY KEY AUTOINCREMENT, sid INTEGER NOT NULL,
      time INTEGER NOT NULL, bytes INTEGER NOT NULL, data TEXT NOT NULL);
    INSERT INTO _spool_streams (sid, name, appended, inflight_upto, inflight_meta, inflight_at)
      VALUES (1, 'old', 3, 2, '{"n":2}', 5);
    INSERT INTO _spool (id, sid, time, bytes, data) VALUES (1, 1, 10, 1, 'x'), (2, 1, 11, 1, 'y'),
      (3, 1, 12, 1, 'z');
  `);
  const clock = new FakeClock(1_700_000_000_000);
  const spool = Spool.of(db, { clock, log: new LogHub({ sinks: [] }).logger("spool") });
  const s = spool.stream("old");
  assert.equal(s.backlog, 3);
  const recs = s.peek();
  assert.deepEqual(recs.map((r) => r.data), ["x", "y", "z"]);
  // The marker still names the second record: acking it leaves the third.
  const inflight = s.inflight()!;
  assert.equal(inflight.upTo, recs[1]!.id);
  s.ack(inflight.upTo);
  assert.deepEqual(s.peek().map((r) => r.data), ["z"]);
  s.append([{ data: "new1" }, { data: "new2" }]);
  assert.deepEqual(s.peek().map((r) => r.data), ["z", "new1", "new2"]);
});

Deno.test("keys: stored once per pack, a pack ends at a change of key, acks inside keep it", () => {
  const { db, spool } = setup();
  using _db = db;
  const s = spool.stream("keys");
  s.append([
    { data: "a1", key: "A" },
    { data: "a2", key: "A" },
    { data: "b1", key: "B\nb" },
    { data: "plain" },
    { data: "plain2" },
  ]);
  const rows = db.sql.prepare("SELECT n, key FROM _spool ORDER BY id").all() as {
    n: number;
    key: string | null;
  }[];
  assert.deepEqual(rows.map((r) => [r.n, r.key]), [[2, "A"], [1, "B\nb"], [2, null]]);
  const all = s.peek();
  assert.deepEqual(all.map((r) => [r.key, r.data]), [
    ["A", "a1"],
    ["A", "a2"],
    ["B\nb", "b1"],
    [undefined, "plain"],
    [undefined, "plain2"],
  ]);
  assert.ok(!("key" in all[3]!), "a record without a key has no key property");
  assert.equal(s.status().bytes, 2 + 2 + 2 + 5 + 6, "keys are not counted in bytes");
  s.ack(all[0]!.id);
  assert.deepEqual(s.peek().map((r) => [r.key, r.data]).slice(0, 1), [["A", "a2"]]);
  assert.throws(() => s.append([{ data: "x", key: 5 as unknown as string }]), TypeError);
  // A pack's times are stored relative to its first one, earlier ones too.
  const u = spool.stream("unsorted");
  u.append([{ data: "t1", time: 5000 }, { data: "t2", time: 4990 }, { data: "t3", time: 5007 }]);
  assert.deepEqual(u.peek().map((r) => r.time), [5000, 4990, 5007]);
});

Deno.test("a spool written with packs but before keys is upgraded: its packs read as records without a key", () => {
  const db = Database.open({ path: ":memory:", purgeInterval: 0 });
  using _db = db;
  db.sql.exec(`
    CREATE TABLE _spool_streams (sid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
      appended INTEGER NOT NULL DEFAULT 0, sent INTEGER NOT NULL DEFAULT 0,
      dropped INTEGER NOT NULL DEFAULT 0, refused INTEGER NOT NULL DEFAULT 0,
      last_error TEXT, last_error_at INTEGER, last_ack_at INTEGER,
      inflight_upto INTEGER, inflight_meta TEXT, inflight_at INTEGER);
    CREATE TABLE _spool (id INTEGER PRIMARY KEY AUTOINCREMENT, sid INTEGER NOT NULL,
      time INTEGER NOT NULL, bytes INTEGER NOT NULL, n INTEGER NOT NULL DEFAULT 1,
      k0 INTEGER NOT NULL DEFAULT 0, data TEXT NOT NULL);
    INSERT INTO _spool_streams (sid, name, appended) VALUES (1, 'old', 3);
    INSERT INTO _spool (id, sid, time, bytes, n, k0, data) VALUES
      (1, 1, 10, 3, 2, 0, '10:1,11:2' || char(10) || 'xyy'), (2, 1, 12, 1, 1, 0, 'z');
  `);
  const clock = new FakeClock(1_700_000_000_000);
  const spool = Spool.of(db, { clock, log: new LogHub({ sinks: [] }).logger("spool") });
  const s = spool.stream("old");
  const recs = s.peek();
  assert.deepEqual(recs.map((r) => [r.time, r.data, r.key]), [
    [10, "x", undefined],
    [11, "yy", undefined],
    [12, "z", undefined],
  ]);
  s.append([{ data: "k", key: "K" }]);
  assert.deepEqual(s.peek().map((r) => r.key ?? null), [null, null, null, "K"]);
});
