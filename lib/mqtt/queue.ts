/**
 * The persistent outgoing queue: QoS ≥ 1 messages (and QoS 0 ones while
 * offline, when configured) live in the table `_mqtt_queue` of the agent's
 * SQLite database from before `publish` resolves until the broker acknowledged
 * them. Ids grow monotonically (AUTOINCREMENT), so the queue is sent in order
 * after a restart.
 *
 * Table: `_mqtt_queue(id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT,
 * payload BLOB, qos INT, retain INT, props TEXT (JSON of MQTT 5 properties or
 * NULL), created INT (ms epoch), attempts INT, strikes INT)`.
 *
 * Writes are grouped: inserts made in the same tick are committed together in
 * one SAVEPOINT (a transaction of its own, or nested in a caller's), and every
 * `enqueue()` promise resolves only after that commit. Deletes (on ack) are
 * committed in batches within 5 ms; `flush()` commits everything now.
 *
 * Bounds: `maxMessages` and `maxBytes` (topic + payload bytes). When full,
 * "reject" throws `MqttError("QUEUE_FULL")`; "dropOldest" deletes from the head
 * and reports the dropped ids through `onDrop`.
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import { MqttError } from "./errors.ts";
import { topicBytes } from "./topic.ts";

/** A message as stored. */
export interface QueuedMessage {
  id: number;
  topic: string;
  payload: Uint8Array;
  qos: 0 | 1 | 2;
  retain: boolean;
  /** MQTT 5 publish properties (JSON-safe). */
  properties?: Record<string, unknown>;
  /** ms since epoch. */
  created: number;
  /** Times it was in flight on a connection that died before its ack. */
  attempts: number;
  /** Times the connection died while it was the only message in flight. */
  strikes: number;
}

/** What `enqueue()` takes. */
export type NewMessage = Pick<QueuedMessage, "topic" | "payload" | "qos" | "retain" | "properties">;

/** Options of {@linkcode MqttQueue}. */
export interface MqttQueueOptions {
  /** Most messages kept. @default 100000 */
  maxMessages?: number;
  /** Most bytes kept (topic + payload). @default 67108864 */
  maxBytes?: number;
  /** Policy when full. @default "reject" */
  full?: "reject" | "dropOldest";
  /** Table name. @default "_mqtt_queue" */
  table?: string;
  /** Time source for `created`, ms since epoch. @default Date.now */
  now?: () => number;
  /** Called with the ids dropped to make room. */
  onDrop?: (ids: number[]) => void;
}

interface _Pending {
  msg: NewMessage;
  created: number;
  onId: ((id: number) => void) | undefined;
  id: number;
}

/** Most fresh messages (and payload bytes) kept in memory for the sender. */
const TAIL_MESSAGES = 32768;
const TAIL_BYTES = 8 * 1024 * 1024;
/** Deletes committed together at most this many ms after an ack. */
const DELETE_DELAY = 5;
/** …or as soon as this many are waiting. */
const DELETE_BATCH = 500;

/** Size a message counts against `maxBytes`. */
export function messageBytes(topic: string, payload: Uint8Array): number {
  return topicBytes(topic) + payload.length;
}

export class MqttQueue {
  readonly #db: DatabaseSync;
  #maxMessages: number;
  #maxBytes: number;
  #full: "reject" | "dropOldest";
  readonly #now: () => number;
  readonly #onDrop: (ids: number[]) => void;
  readonly #insert: StatementSync;
  readonly #delete: StatementSync;
  readonly #peek: StatementSync;
  readonly #head: StatementSync;
  readonly #attempt: StatementSync;
  readonly #strike: StatementSync;
  #pending: _Pending[] = [];
  #batch: PromiseWithResolvers<void> | undefined;
  #deletes: number[] = [];
  #scheduled = false;
  #deleteTimer: ReturnType<typeof setTimeout> | undefined;
  /** Committed messages after `#tailFrom`, in id order, while `#tailValid` (saves re-reading fresh rows). */
  #tail: QueuedMessage[] = [];
  /** Index of the first live entry of `#tail`. */
  #tailHead = 0;
  #tailFrom = 0;
  #tailBytes = 0;
  #tailValid = false;
  #count: number;
  #bytes: number;
  /** Messages dropped because the queue was full. */
  dropped = 0;

  constructor(db: DatabaseSync, options: MqttQueueOptions = {}) {
    this.#db = db;
    this.#maxMessages = options.maxMessages ?? 100_000;
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.#full = options.full ?? "reject";
    this.#now = options.now ?? Date.now;
    this.#onDrop = options.onDrop ?? (() => {});
    const t = options.table ?? "_mqtt_queue";
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(t)) throw new TypeError(`Bad table name "${t}"`);
    db.exec(`CREATE TABLE IF NOT EXISTS ${t} (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      topic TEXT NOT NULL,
      payload BLOB NOT NULL,
      qos INTEGER NOT NULL,
      retain INTEGER NOT NULL,
      props TEXT,
      created INTEGER NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      strikes INTEGER NOT NULL DEFAULT 0
    )`);
    this.#insert = db.prepare(
      `INSERT INTO ${t} (topic, payload, qos, retain, props, created) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.#delete = db.prepare(`DELETE FROM ${t} WHERE id = ?`);
    this.#peek = db.prepare(
      `SELECT id, topic, payload, qos, retain, props, created, attempts, strikes FROM ${t}
       WHERE id > ? ORDER BY id LIMIT ?`,
    );
    this.#head = db.prepare(
      `SELECT id, length(CAST(topic AS BLOB)) + length(payload) AS size FROM ${t} ORDER BY id LIMIT ?`,
    );
    this.#attempt = db.prepare(`UPDATE ${t} SET attempts = attempts + 1 WHERE id = ?`);
    this.#strike = db.prepare(`UPDATE ${t} SET strikes = strikes + 1 WHERE id = ?`);
    const row = db.prepare(
      `SELECT count(*) AS n, total(length(CAST(topic AS BLOB)) + length(payload)) AS b FROM ${t}`,
    ).get() as { n: number; b: number };
    this.#count = Number(row.n);
    this.#bytes = Number(row.b);
  }

  /**
   * Change the bounds and the full policy (config reload). Messages already
   * stored stay, even over a lowered bound; the bounds apply to new messages.
   */
  setBounds(o: Pick<MqttQueueOptions, "maxMessages" | "maxBytes" | "full">): void {
    if (o.maxMessages !== undefined) this.#maxMessages = o.maxMessages;
    if (o.maxBytes !== undefined) this.#maxBytes = o.maxBytes;
    if (o.full !== undefined) this.#full = o.full;
  }

  /** Messages in the queue (committed or about to be). */
  get count(): number {
    return this.#count;
  }

  /** Bytes in the queue (topic + payload). */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Store a message; resolves with its id once committed. Throws
   * `MqttError("QUEUE_FULL")` when full with policy "reject" (or when the
   * message alone exceeds `maxBytes`).
   */
  async enqueue(msg: NewMessage): Promise<number> {
    let id = 0;
    await this.add(msg, (i) => (id = i));
    return id;
  }

  /**
   * Like `enqueue`, cheaper: resolves (with every message of the same tick)
   * once committed; `onId` gets the id synchronously right after the commit,
   * before the message can be sent.
   */
  add(msg: NewMessage, onId?: (id: number) => void): Promise<void> {
    const size = messageBytes(msg.topic, msg.payload);
    if (size > this.#maxBytes) {
      return Promise.reject(
        new MqttError(
          "QUEUE_FULL",
          `Message of ${size} bytes exceeds the queue limit of ${this.#maxBytes} bytes`,
        ),
      );
    }
    if (this.#count + 1 > this.#maxMessages || this.#bytes + size > this.#maxBytes) {
      if (this.#full === "reject") {
        this.dropped++;
        return Promise.reject(
          new MqttError(
            "QUEUE_FULL",
            `MQTT queue is full (${this.#count} messages, ${this.#bytes} bytes; limits ${this.#maxMessages} and ${this.#maxBytes}): message to "${msg.topic}" rejected`,
          ),
        );
      }
      this.#dropOldest(size);
    }
    this.#count++;
    this.#bytes += size;
    this.#pending.push({ msg, created: this.#now(), onId, id: 0 });
    this.#batch ??= Promise.withResolvers<void>();
    this.#schedule();
    return this.#batch.promise;
  }

  /** Up to `limit` messages with id > `afterId`, oldest first (commits pending writes first). */
  peek(afterId: number, limit: number): QueuedMessage[] {
    this.flush();
    if (this.#tailValid && afterId >= this.#tailFrom) {
      const tail = this.#tail;
      let i = this.#tailHead;
      while (i < tail.length && tail[i]!.id <= afterId) {
        this.#tailBytes -= tail[i++]!.payload.length;
      }
      this.#tailHead = i;
      if (i > 1024 && i * 2 > tail.length) {
        // Compact now and then instead of on every read.
        this.#tail = tail.slice(i);
        this.#tailHead = 0;
      }
      this.#tailFrom = afterId;
      return this.#tail.slice(this.#tailHead, this.#tailHead + limit);
    }
    const rows = this.#read(afterId, limit);
    if (rows.length < limit) {
      // The reader reached the end: from here on, new rows can be served from memory.
      this.#tail = rows;
      this.#tailHead = 0;
      this.#tailBytes = rows.reduce((n, m) => n + m.payload.length, 0);
      this.#tailFrom = afterId;
      this.#tailValid = true;
      return rows.slice();
    }
    return rows;
  }

  #read(afterId: number, limit: number): QueuedMessage[] {
    const rows = this.#peek.all(afterId, limit) as Record<string, unknown>[];
    return rows.map((r) => ({
      id: Number(r.id),
      topic: String(r.topic),
      payload: r.payload as Uint8Array,
      qos: Number(r.qos) as 0 | 1 | 2,
      retain: r.retain === 1 || r.retain === 1n,
      ...(r.props ? { properties: JSON.parse(String(r.props)) } : {}),
      created: Number(r.created),
      attempts: Number(r.attempts),
      strikes: Number(r.strikes),
    }));
  }

  /** Remove an acknowledged (or poison) message; `size` as from {@linkcode messageBytes}. */
  remove(id: number, size: number): void {
    this.#deletes.push(id);
    this.#count = Math.max(0, this.#count - 1);
    this.#bytes = Math.max(0, this.#bytes - size);
    // Acks arrive one per tick: batch their deletes on a short timer (a crash
    // before the commit only means a duplicate, which at-least-once allows).
    if (this.#deletes.length >= DELETE_BATCH) this.flush();
    else this.#deleteTimer ??= setTimeout(() => this.flush(), DELETE_DELAY);
  }

  /** Start reading from the table again (a new connection resends from the head). */
  rewind(): void {
    this.#dropTail();
  }

  /** Count a failed delivery attempt (the connection died before the ack). */
  attempted(ids: number[]): void {
    this.flush();
    this.#dropTail();
    this.#tx(() => ids.forEach((id) => this.#attempt.run(id)));
  }

  /** Count a strike against a message that was alone in flight when the connection died. */
  strike(id: number): void {
    this.flush();
    this.#dropTail();
    this.#strike.run(id);
  }

  /** Commit pending inserts and deletes now. */
  flush(): void {
    if (this.#deleteTimer !== undefined) {
      clearTimeout(this.#deleteTimer);
      this.#deleteTimer = undefined;
    }
    if (this.#pending.length === 0 && this.#deletes.length === 0) return;
    const pending = this.#pending;
    const deletes = this.#deletes;
    const batch = this.#batch;
    this.#pending = [];
    this.#deletes = [];
    this.#batch = undefined;
    const ids: number[] = [];
    try {
      this.#tx(() => {
        for (const p of pending) {
          const m = p.msg;
          const r = this.#insert.run(
            m.topic,
            m.payload,
            m.qos,
            m.retain ? 1 : 0,
            m.properties ? JSON.stringify(m.properties) : null,
            p.created,
          );
          ids.push(Number(r.lastInsertRowid));
        }
        for (const id of deletes) this.#delete.run(id);
      });
    } catch (e) {
      for (const p of pending) {
        this.#count--;
        this.#bytes -= messageBytes(p.msg.topic, p.msg.payload);
      }
      batch?.reject(e);
      return;
    }
    if (this.#tailValid) {
      pending.forEach((p, i) => {
        const m = p.msg;
        const row: QueuedMessage = {
          id: ids[i]!,
          topic: m.topic,
          payload: m.payload,
          qos: m.qos,
          retain: m.retain,
          created: p.created,
          attempts: 0,
          strikes: 0,
        };
        if (m.properties) row.properties = m.properties;
        this.#tail.push(row);
        this.#tailBytes += p.msg.payload.length;
      });
      if (this.#tail.length - this.#tailHead > TAIL_MESSAGES || this.#tailBytes > TAIL_BYTES) {
        this.#dropTail();
      }
    }
    pending.forEach((p, i) => p.onId?.(ids[i]!));
    batch?.resolve();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.flush();
    });
  }

  #tx(fn: () => void): void {
    this.#db.exec("SAVEPOINT mqtt_queue");
    try {
      fn();
      this.#db.exec("RELEASE mqtt_queue");
    } catch (e) {
      this.#db.exec("ROLLBACK TO mqtt_queue");
      this.#db.exec("RELEASE mqtt_queue");
      throw e;
    }
  }

  /** Forget the in-memory tail; the next peek reads from the table. */
  #dropTail(): void {
    this.#tail = [];
    this.#tailHead = 0;
    this.#tailBytes = 0;
    this.#tailValid = false;
  }

  /** Delete from the head until a message of `size` bytes fits. */
  #dropOldest(size: number): void {
    this.flush();
    const dropped: number[] = [];
    let count = this.#count;
    let bytes = this.#bytes;
    const need = Math.max(1, count + 1 - this.#maxMessages);
    const rows = this.#head.all(Math.max(need, 64)) as { id: number; size: number }[];
    for (const r of rows) {
      if (count + 1 <= this.#maxMessages && bytes + size <= this.#maxBytes) break;
      dropped.push(Number(r.id));
      count--;
      bytes -= Number(r.size);
    }
    if (count + 1 > this.#maxMessages || bytes + size > this.#maxBytes) {
      // Not enough in the first rows (many tiny ones before a big one): go again.
      this.#tx(() => dropped.forEach((id) => this.#delete.run(id)));
      this.#count = count;
      this.#bytes = bytes;
      this.dropped += dropped.length;
      this.#dropTail();
      this.#onDrop(dropped);
      return this.#dropOldest(size);
    }
    this.#tx(() => dropped.forEach((id) => this.#delete.run(id)));
    this.#count = count;
    this.#bytes = bytes;
    this.dropped += dropped.length;
    this.#dropTail();
    if (dropped.length) this.#onDrop(dropped);
  }
}
