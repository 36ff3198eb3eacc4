import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { MqttQueue } from "./queue.ts";

const enc = new TextEncoder();
const msg = (topic: string, text: string) => ({
  topic,
  payload: enc.encode(text),
  qos: 1 as const,
  retain: false,
});

async function withFile(fn: (file: string) => Promise<void>) {
  const file = await Deno.makeTempFile({ suffix: ".db" });
  try {
    await fn(file);
  } finally {
    for (const f of [file, file + "-wal", file + "-shm"]) await Deno.remove(f).catch(() => {});
  }
}

Deno.test("queue survives a reopen: rows, order, count and bytes come back from the file", async () => {
  await withFile(async (file) => {
    let db = new DatabaseSync(file);
    db.exec("PRAGMA journal_mode=WAL");
    let q = new MqttQueue(db);
    const ids = await Promise.all([
      q.enqueue(msg("a", "1")),
      q.enqueue(msg("b", "22")),
      q.enqueue(msg("c", "333")),
    ]);
    deepEqual(ids, [ids[0], ids[0]! + 1, ids[0]! + 2]);
    q.remove(ids[0]!, 2);
    q.flush();
    db.close();
    db = new DatabaseSync(file);
    q = new MqttQueue(db);
    equal(q.count, 2);
    equal(q.bytes, 1 + 2 + 1 + 3);
    deepEqual(q.peek(0, 10).map((m) => m.topic), ["b", "c"]);
    // AUTOINCREMENT: a new id is above every id ever used.
    const next = await q.enqueue(msg("d", "4"));
    equal(next, ids[2]! + 1);
    db.close();
  });
});

Deno.test("queue bounds: reject policy throws QUEUE_FULL; dropOldest drops from the head and reports ids", async () => {
  const db = new DatabaseSync(":memory:");
  const q = new MqttQueue(db, { maxMessages: 2 });
  await q.enqueue(msg("a", "1"));
  await q.enqueue(msg("a", "2"));
  await rejects(q.enqueue(msg("a", "3")), { code: "QUEUE_FULL" });
  equal(q.dropped, 1);

  const dropped: number[] = [];
  const q2 = new MqttQueue(db, {
    table: "_q2",
    maxBytes: 1024,
    full: "dropOldest",
    onDrop: (ids) => dropped.push(...ids),
  });
  const first = await q2.enqueue(msg("t", "x".repeat(500)));
  const second = await q2.enqueue(msg("t", "y".repeat(500)));
  await q2.enqueue(msg("t", "z".repeat(500)));
  deepEqual(dropped, [first]);
  deepEqual(q2.peek(0, 10).map((m) => m.id), [second, second + 1]);
  await rejects(q2.enqueue(msg("t", "w".repeat(2000))), { code: "QUEUE_FULL" });
  db.close();
});

Deno.test("attempts and strikes are stored with the message", async () => {
  const db = new DatabaseSync(":memory:");
  const q = new MqttQueue(db);
  const id = await q.enqueue(msg("a", "1"));
  q.attempted([id]);
  q.attempted([id]);
  q.strike(id);
  const [m] = q.peek(0, 1);
  equal(m!.attempts, 2);
  equal(m!.strikes, 1);
  db.close();
});

Deno.test("reads served from memory match the table, also after removes, drops and rewind", async () => {
  const db = new DatabaseSync(":memory:");
  const q = new MqttQueue(db, { maxMessages: 500, full: "dropOldest" });
  const fromTable = (after: number, limit: number) =>
    (db.prepare("SELECT id FROM _mqtt_queue WHERE id > ? ORDER BY id LIMIT ?").all(
      after,
      limit,
    ) as {
      id: number;
    }[]).map((r) => r.id);
  let cursor = 0;
  for (let round = 0; round < 20; round++) {
    await Promise.all(Array.from({ length: 100 }, (_, i) => q.enqueue(msg("t", `${round}-${i}`))));
    const batch = q.peek(cursor, 64);
    deepEqual(batch.map((m) => m.id), fromTable(cursor, 64), `round ${round}`);
    for (const m of batch) q.remove(m.id, 1 + m.payload.length);
    cursor = batch.at(-1)?.id ?? cursor;
    if (round % 7 === 6) {
      q.rewind();
      cursor = 0;
    }
  }
  q.flush();
  deepEqual(q.peek(0, 5000).map((m) => m.id), fromTable(0, 5000));
  ok(q.dropped > 0, "the bound was hit");
  equal(q.count, fromTable(0, 5000).length);
  db.close();
});
