import assert from "node:assert/strict";
import type { SpoolRecord } from "../spool.ts";
import { cutBatch, decodeRecord, encodeEvent, EVENT_OVERHEAD, eventKey } from "./events.ts";

Deno.test("cutBatch: records with a key and older ones with the destination in their data", () => {
  const now = Date.now();
  const key = eventKey("/g", "s");
  const records: SpoolRecord[] = [
    { id: 1, time: now, bytes: 8, data: encodeEvent("/g", "s", "old") },
    { id: 2, time: now, bytes: 4, data: "new1", key },
    { id: 3, time: now + 1, bytes: 5, data: "new2é", key },
    { id: 4, time: now + 2, bytes: 3, data: "oth", key: eventKey("/g", "t") },
  ];
  assert.deepEqual(decodeRecord(records[0]!), { group: "/g", stream: "s", message: "old" });
  assert.deepEqual(decodeRecord(records[2]!), { group: "/g", stream: "s", message: "new2é" });
  const a = cutBatch(records, { now })!;
  assert.deepEqual(a.events.map((e) => e.message), ["old"]);
  assert.equal(a.bytes, 3 + EVENT_OVERHEAD);
  assert.equal(a.upTo, 1);
  const b = cutBatch(records.slice(1), { now })!;
  assert.deepEqual([b.group, b.stream, b.upTo, b.full], ["/g", "s", 3, true]);
  assert.deepEqual(b.events, [{ timestamp: now, message: "new1" }, {
    timestamp: now + 1,
    message: "new2é",
  }]);
  assert.equal(b.bytes, 4 + 5 + 2 * EVENT_OVERHEAD);
  const c = cutBatch(records.slice(3), { now })!;
  assert.deepEqual([c.stream, c.events.length, c.full], ["t", 1, false]);
});
