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
