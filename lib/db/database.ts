/**
 * The embedded database: models over one SQLite file (node:sqlite, WAL).
 * Every write validates against its model, stores the item and appends a
 * change row in one transaction, then tells subscribers. The API is
 * synchronous (SQLite is in-process); `transaction(fn)` takes a synchronous
 * function and nests with savepoints.
 *
 * ```ts
 * await using db = Database.open({ path: "state/tern.db", schema: config.schema.models });
 * db.create("Reading", { deviceId: "d1", time: new Date(), value: 21.5 });
 * const page = db.find("Reading", { deviceId: "d1", time: { gte: "2024-05-01" } }, { limit: 10 });
 * ```
 */

import { DatabaseSync } from "node:sqlite";
import { dirname } from "../path.ts";
import { type Clock, systemClock } from "../clock.ts";
import { isModelName, type ModelInput } from "../config/mod.ts";
import { type Logger, nullLogger } from "../log/mod.ts";
import { suggest } from "../config/_suggest.ts";
import { DDL, FORMAT, pragmas, Statements } from "./_sql.ts";
import { ChangeLog } from "./changes.ts";
import { DbError, fromSqlite } from "./errors.ts";
import { applyModel, loadStoredModels } from "./migrate.ts";
import { MAX_ITEM_BYTES, META, Model } from "./model.ts";
import { purge, type PurgeResult } from "./purge.ts";
import { DEFAULT_LIMIT, encodeNext, MAX_LIMIT, planFind } from "./query.ts";
import type {
  Change,
  ConditionalOptions,
  Cursor,
  DatabaseOptions,
  FindOptions,
  Item,
  Key,
  Origin,
  Page,
  PutOptions,
  Query,
  RawKey,
  UpdateOptions,
  WriteOptions,
} from "./types.ts";
import { ulidFactory } from "./ulid.ts";

const utf8 = new TextEncoder();
const INSERT_ITEM = "INSERT INTO _items (model, pk, sk, version, created, expires, data) " +
  "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model, pk, sk) DO UPDATE SET version = excluded.version, " +
  "created = excluded.created, expires = excluded.expires, data = excluded.data " +
  "WHERE _items.expires IS NOT NULL AND _items.expires <= ?";
const UPDATE_ITEM =
  "UPDATE _items SET version = ?, created = ?, expires = ?, data = ? WHERE model = ? AND pk = ? AND sk = ?";
const GET_ITEM = "SELECT data FROM _items WHERE model = ? AND pk = ? AND sk = ? " +
  "AND (expires IS NULL OR expires > ?)";
const GET_FOR_WRITE = "SELECT version, data FROM _items WHERE model = ? AND pk = ? AND sk = ? " +
  "AND (expires IS NULL OR expires > ?)";
const DELETE_ITEM = "DELETE FROM _items WHERE model = ? AND pk = ? AND sk = ?";
const DELETE_INDEX = "DELETE FROM _index WHERE model = ? AND pk = ? AND sk = ?";
const INSERT_INDEX =
  "INSERT OR REPLACE INTO _index (model, idx, pk, isk, sk) VALUES (?, ?, ?, ?, ?)";

type Fields = Record<string, unknown>;
/** What a write reads of the item it changes. */
type StoredRow = { version: number; data: string };

export class Database {
  /** The SQLite connection, for subsystems that keep their own tables in this file. */
  readonly sql: DatabaseSync;
  /** The file path (":memory:" for an in-memory database). */
  readonly path: string;
  readonly clock: Clock;
  readonly log: Logger;
  #stmts: Statements;
  #changes: ChangeLog;
  #models = new Map<string, Model>();
  #depth = 0;
  #closed = false;
  #ulid: () => string;
  #purgeAbort = new AbortController();
  #purgeLoop: Promise<void> | undefined;
  #changeLogLimit: number;
  /** When the storage was found full (ms), until a transaction commits again. */
  #fullSince: number | undefined;

  private constructor(sql: DatabaseSync, options: DatabaseOptions) {
    this.sql = sql;
    this.path = options.path;
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? nullLogger;
    this.#stmts = new Statements(sql);
    this.#changes = new ChangeLog(this.#stmts, this.log);
    this.#ulid = ulidFactory(() => this.clock.now());
    this.#changeLogLimit = options.changeLogLimit ?? 100_000;
  }

  /**
   * Open (or create) a database file and apply the schema, migrating stored
   * data when models changed. Throws `DbError` code `schema` for an invalid
   * model and `migration` for a change the stored data does not allow.
   */
  static open(options: DatabaseOptions): Database {
    const path = options.path;
    if (path !== ":memory:") _prepareFile(path);
    const sql = new DatabaseSync(path);
    let db: Database | undefined;
    try {
      sql.exec(pragmas(options.synchronous ?? "NORMAL", options.busyTimeout ?? 5000));
      db = new Database(sql, options);
      db.transaction(() => {
        sql.exec(DDL);
        const stmts = db!.#stmts;
        const format = stmts.get("SELECT value FROM _meta WHERE key = 'format'").get() as
          | { value: string }
          | undefined;
        if (format && format.value !== FORMAT) {
          throw new DbError(
            "migration",
            `Database "${path}" has layout ${format.value}; this version of Tern reads layout ${FORMAT}`,
          );
        }
        if (!format) stmts.get("INSERT INTO _meta (key, value) VALUES ('format', ?)").run(FORMAT);
      });
      for (const name of Object.keys(options.schema ?? {})) {
        if (name.startsWith("_")) {
          throw new DbError(
            "schema",
            `Model name "${name}" starts with "_", which is reserved for system models`,
            { model: name },
          );
        }
      }
      db.#defineAll(options.schema ?? {}, false);
      db.#defineAll(options.systemModels ?? {}, true);
      const stored = loadStoredModels(db.#stmts);
      for (const name of Object.keys(stored)) {
        if (!db.#models.has(name) && !name.startsWith("_")) {
          db.log.warn(`Model "${name}" is no longer in the schema; its items are kept`, {
            model: name,
          });
        }
      }
      const interval = options.purgeInterval ?? 60_000;
      if (interval > 0) db.#purgeLoop = db.#runPurge(interval);
      return db;
    } catch (e) {
      try {
        sql.close();
      } catch { /* already closed */ }
      throw e;
    }
  }

  /**
   * Register (or re-register) a system model: the name starts with "_", the
   * definition has the schema.json5 format. Migrates like a schema change.
   */
  define(name: string, def: ModelInput): Model {
    if (!isModelName(name, true)) {
      throw new DbError(
        "schema",
        `System model name "${name}" must start with "_" followed by a letter (letters, digits, _)`,
        { model: name },
      );
    }
    this.#defineAll({ [name]: def }, true);
    return this.#models.get(name)!;
  }

  /**
   * Apply a new user schema live (config reload): new and changed models are
   * migrated as at open; all or nothing. Models left out keep their items.
   */
  applySchema(schema: Record<string, ModelInput>): void {
    for (const name of Object.keys(schema)) {
      if (!isModelName(name, false)) {
        throw new DbError("schema", `Invalid user model name "${name}"`, { model: name });
      }
    }
    this.#defineAll(schema, false);
  }

  #defineAll(defs: Record<string, ModelInput>, system: boolean): void {
    this.#open();
    const parsed = Object.entries(defs).map(([name, input]) => {
      if (!isModelName(name, system)) {
        throw new DbError("schema", `Invalid model name "${name}"`, { model: name });
      }
      return new Model(name, Model.parse(name, input));
    });
    this.transaction(() => {
      const stored = loadStoredModels(this.#stmts);
      for (const m of parsed) {
        applyModel(this.#stmts, m, stored[m.name], this.clock.now(), this.log);
      }
    });
    for (const m of parsed) this.#models.set(m.name, m);
  }

  /** Every model, user models first, by name. */
  models(): Model[] {
    return [...this.#models.values()].sort((a, b) =>
      Number(a.name.startsWith("_")) - Number(b.name.startsWith("_")) ||
      _byCodeUnit(a.name, b.name)
    );
  }

  /** A model by name; throws `unknown_model` with a suggestion. */
  model(name: string): Model {
    const m = this.#models.get(name);
    if (m) return m;
    const hit = suggest(String(name), [...this.#models.keys()]);
    throw new DbError(
      "unknown_model",
      `Unknown model "${name}"${hit ? ` (did you mean "${hit}"?)` : ""}`,
      { model: String(name) },
    );
  }

  /** Create an item; `conflict` when one with the same key exists. */
  create(model: string, item: Fields, options: WriteOptions = {}): Item {
    this.#open();
    const m = this.model(model);
    const fields = m.prepare(item, this.#newId);
    const key = m.keyOf(fields);
    return this.#write(() => {
      const now = this.clock.now();
      const iso = new Date(now).toISOString();
      return this.#store("create", m, key, fields, iso, iso, 1, now, options.origin ?? "local");
    });
  }

  /** The item with this key, or undefined (also when it expired). */
  get(model: string, key: Key): Item | undefined {
    this.#open();
    const m = this.model(model);
    const k = m.resolveKey(key);
    const row = this.#stmts.get(GET_ITEM).get(m.name, k.pk, k.sk, this.clock.now()) as
      | { data: string }
      | undefined;
    return row ? JSON.parse(row.data) : undefined;
  }

  /** Items by key prefix or range, in sort-key order, a page at a time. */
  find(model: string, query: Query = {}, options: FindOptions = {}): Page {
    this.#open();
    const m = this.model(model);
    const limit = options.limit ?? DEFAULT_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      throw new DbError(
        "validation",
        `limit must be an integer from 1 to ${MAX_LIMIT}, got ${limit}`,
        {
          model: m.name,
        },
      );
    }
    const plan = planFind(m, query, options, this.clock.now());
    const stmt = this.#stmts.get(plan.sql);
    const filter = _filter(m, options.where);
    const items: Item[] = [];
    let last: string[] | undefined;
    let more = false;
    if (!filter) {
      const rows = stmt.all(...plan.params, limit + 1) as Record<string, string>[];
      more = rows.length > limit;
      const n = Math.min(rows.length, limit);
      for (let i = 0; i < n; i++) items.push(JSON.parse(rows[i]!.data!));
      if (more) last = _rowKey(rows[n - 1]!, plan.index);
    } else {
      // Filtered: scan in batches until the page is full (DynamoDB would stop at `limit` scanned).
      const batch = Math.max(limit * 2, 100);
      let params = plan.params;
      let sql = plan.sql;
      for (;;) {
        const rows = this.#stmts.get(sql).all(...params, batch) as Record<string, string>[];
        for (const row of rows) {
          const item = JSON.parse(row.data!) as Item;
          if (!filter(item)) continue;
          if (items.length === limit) {
            more = true;
            break;
          }
          items.push(item);
          last = _rowKey(row, plan.index);
        }
        if (more || rows.length < batch) break;
        const p = planFind(m, query, {
          ...options,
          next: encodeNext(_rowKey(rows.at(-1)!, plan.index)),
        }, this.clock.now());
        sql = p.sql;
        params = p.params;
      }
      if (!more) last = undefined;
    }
    return last && more ? { items, next: encodeNext(last) } : { items };
  }

  /**
   * Change fields of an item: `null` removes a field. With `upsert` a missing
   * item is created from key + patch. `ifVersion` makes it conditional.
   */
  update(model: string, key: Key, patch: Fields, options: UpdateOptions = {}): Item {
    this.#open();
    const m = this.model(model);
    const k = m.resolveKey(key);
    const origin = options.origin ?? "local";
    return this.#writeItem(m, k, (row, now, iso) => {
      if (!row) {
        if (!options.upsert) throw _notFound(m, k);
        this.#checkVersion(m, k, 0, options.ifVersion);
        const source = typeof key.pk === "string" ? patch : { ...key, ...patch };
        const fields = m.prepare(source, this.#newId);
        _sameKey(m, k, m.keyOf(fields));
        return this.#store("create", m, k, fields, iso, iso, 1, now, origin);
      }
      this.#checkVersion(m, k, row.version, options.ifVersion);
      const stored = JSON.parse(row.data) as Item;
      const fields = m.patch(_fields(stored), patch, this.#newId);
      return this.#store("update", m, k, fields, stored.created, iso, row.version + 1, now, origin);
    });
  }

  /**
   * Create or replace a whole item. `keepMeta` keeps the item's `created`,
   * `updated` and `_version` (import; sync applying cloud items).
   */
  put(model: string, item: Fields, options: PutOptions = {}): Item {
    this.#open();
    const m = this.model(model);
    const keepMeta = options.keepMeta === true;
    const fields = m.prepare(item, this.#newId, keepMeta);
    const k = m.keyOf(fields);
    const origin = options.origin ?? "local";
    const meta = keepMeta ? _meta(m, item) : undefined;
    return this.#writeItem(m, k, (row, now, iso) => {
      this.#checkVersion(m, k, row?.version ?? 0, options.ifVersion);
      const created = meta?.created ?? (row ? (JSON.parse(row.data) as Item).created : iso);
      const updated = meta?.updated ?? iso;
      const version = meta?._version ?? (row ? row.version + 1 : 1);
      const op = row ? "update" : "create";
      return this.#store(op, m, k, fields, created, updated, version, now, origin);
    });
  }

  /** Delete an item and return it; `not_found` when there is none. */
  remove(model: string, key: Key, options: ConditionalOptions = {}): Item {
    this.#open();
    const m = this.model(model);
    const k = m.resolveKey(key);
    return this.#writeItem(m, k, (row, _now, iso) => {
      if (!row) throw _notFound(m, k);
      this.#checkVersion(m, k, row.version, options.ifVersion);
      this.#stmts.get(DELETE_ITEM).run(m.name, k.pk, k.sk);
      if (m.indexes.size > 0) this.#stmts.get(DELETE_INDEX).run(m.name, k.pk, k.sk);
      const origin = options.origin ?? "local";
      this.#changes.append(m.name, k.pk, k.sk, "delete", row.version + 1, iso, origin);
      return JSON.parse(row.data) as Item;
    });
  }

  /** The raw key (pk, sk) of an item or key of a model. */
  keyOf(model: string, itemOrKey: Key): RawKey {
    return this.model(model).resolveKey(_keyPart(this.model(model), itemOrKey));
  }

  /**
   * Run `fn` in one transaction (BEGIN IMMEDIATE; nested calls use
   * savepoints). `fn` must be synchronous. If it throws, every write in it is
   * rolled back and the error rethrown; subscribers hear of the writes only
   * after the outermost commit.
   */
  transaction<T>(fn: () => T): T {
    this.#open();
    const outer = this.#depth === 0 && !this.sql.isTransaction;
    const sp = `tern_sp${this.#depth}`;
    try {
      this.#stmts.get(outer ? "BEGIN IMMEDIATE" : `SAVEPOINT ${sp}`).run();
    } catch (e) {
      throw this.#sqliteError(e);
    }
    this.#depth++;
    let result: T;
    try {
      result = fn();
      if (result instanceof Promise) {
        result.catch(() => {});
        throw new TypeError("db.transaction() needs a synchronous function (no async, no await)");
      }
    } catch (e) {
      this.#depth--;
      try {
        if (outer) this.#stmts.get("ROLLBACK").run();
        else {
          this.#stmts.get(`ROLLBACK TO ${sp}`).run();
          this.#stmts.get(`RELEASE ${sp}`).run();
        }
      } catch { /* the transaction is already gone */ }
      if (outer) this.#changes.discard();
      throw this.#sqliteError(e);
    }
    this.#depth--;
    if (outer) {
      try {
        this.#stmts.get("COMMIT").run();
      } catch (e) {
        try {
          this.#stmts.get("ROLLBACK").run();
        } catch { /* nothing to roll back */ }
        this.#changes.discard();
        throw this.#sqliteError(e);
      }
      if (this.#fullSince !== undefined) this.#roomAgain();
      this.#changes.flush();
    } else this.#stmts.get(`RELEASE ${sp}`).run();
    return result;
  }

  /** Change rows after `since`, oldest first. @default limit 1000 */
  changes(since = 0, options: { limit?: number } = {}): Change[] {
    this.#open();
    return this.#changes.read(since, options.limit);
  }

  /** The highest change seq ever assigned (0 for a new database). */
  lastSeq(): number {
    this.#open();
    return this.#changes.lastSeq();
  }

  /** Be told of every committed change (of one model, or all). Returns the unsubscribe function. */
  subscribe(model: string | undefined, fn: (change: Change) => void): () => void {
    if (model !== undefined) this.model(model);
    return this.#changes.subscribe(model, fn);
  }

  /** Since when (ms) writes fail for a full storage; undefined while they succeed. */
  get fullSince(): number | undefined {
    return this.#fullSince;
  }

  /** SQLite's busy and full errors as `DbError`s; a full storage is logged once per episode. */
  #sqliteError(e: unknown): unknown {
    const out = fromSqlite(e);
    if (out instanceof DbError && out.code === "full" && this.#fullSince === undefined) {
      this.#fullSince = this.clock.now();
      this.log.error(
        "Storage full: the database refuses writes until space is freed (nothing is lost that was acknowledged)",
        { path: this.path },
      );
    }
    return out;
  }

  #roomAgain(): void {
    const seconds = Math.round((this.clock.now() - this.#fullSince!) / 1000);
    this.#fullSince = undefined;
    this.log.info("Storage has room again: the database accepts writes", {
      path: this.path,
      seconds,
    });
  }

  /** A persisted consumer position in the change log (created at 0 on first `set`). */
  cursor(name: string): Cursor {
    this.#open();
    return this.#changes.cursor(name, (since, limit) => this.changes(since, { limit }));
  }

  /** Every registered cursor and its position. */
  cursors(): { name: string; seq: number }[] {
    this.#open();
    return this.#changes.cursors();
  }

  /** Purge expired items, items past retention and passed change rows now. */
  purge(): PurgeResult {
    this.#open();
    return this.transaction(() =>
      purge(this.#stmts, this.#models, this.#changes, this.clock.now(), this.#changeLogLimit)
    );
  }

  /** Every live item of every model (or one), for export. */
  *items(model?: string): Generator<{ model: string; item: Item }> {
    this.#open();
    if (model !== undefined) this.model(model);
    const sql = model === undefined
      ? "SELECT model, data FROM _items WHERE (expires IS NULL OR expires > ?) ORDER BY model, pk, sk"
      : "SELECT model, data FROM _items WHERE model = ? AND (expires IS NULL OR expires > ?) ORDER BY pk, sk";
    const stmt = this.sql.prepare(sql);
    const params = model === undefined ? [this.clock.now()] : [model, this.clock.now()];
    for (const row of stmt.iterate(...params) as Iterable<{ model: string; data: string }>) {
      yield { model: row.model, item: JSON.parse(row.data) };
    }
  }

  /** Number of live items of a model. */
  count(model: string): number {
    this.#open();
    const m = this.model(model);
    const row = this.#stmts.get(
      "SELECT count(*) AS n FROM _items WHERE model = ? AND (expires IS NULL OR expires > ?)",
    ).get(m.name, this.clock.now()) as { n: number };
    return Number(row.n);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Stop the purge loop and close the file. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#purgeAbort.abort();
    this.#stmts.clear();
    try {
      this.sql.close();
    } catch (e) {
      this.log.warn("Closing the database failed", { error: String(e) });
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.#purgeLoop;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Run one API write atomically: its own transaction, or directly inside the
   * caller's (every check that can fail runs before the first SQL write, so
   * a failed write leaves nothing behind without a savepoint).
   */
  #write<T>(fn: () => T): T {
    if (this.#depth > 0) return fn();
    return this.transaction(fn);
  }

  /**
   * Run one API write of an item that may exist (update, put, remove): `fn`
   * gets the stored row (undefined when missing or expired) and the write's
   * time in ms and as ISO text, inside the write's transaction.
   */
  #writeItem<T>(
    m: Model,
    k: RawKey,
    fn: (row: StoredRow | undefined, now: number, iso: string) => T,
  ): T {
    return this.#write(() => {
      const now = this.clock.now();
      const row = this.#stmts.get(GET_FOR_WRITE).get(m.name, k.pk, k.sk, now) as
        | StoredRow
        | undefined;
      return fn(row, now, new Date(now).toISOString());
    });
  }

  #newId = (kind: "ulid" | "uuid"): string => kind === "ulid" ? this.#ulid() : crypto.randomUUID();

  #open(): void {
    if (this.#closed) throw new DbError("closed", `Database "${this.path}" is closed`);
  }

  #checkVersion(m: Model, k: RawKey, stored: number, wanted: number | undefined): void {
    if (wanted === undefined || wanted === stored) return;
    throw new DbError(
      "conflict",
      stored === 0
        ? `Item ${_keyText(k)} of "${m.name}" does not exist (ifVersion ${wanted})`
        : `Item ${_keyText(k)} of "${m.name}" is at version ${stored}, not ${wanted}`,
      { model: m.name },
    );
  }

  /** Store an item's new state: insert (`create`, conflict if it exists) or replace (`update`). */
  #store(
    op: "create" | "update",
    m: Model,
    k: RawKey,
    fields: Fields,
    created: string,
    updated: string,
    version: number,
    now: number,
    origin: Origin,
  ): Item {
    const item = { ...fields, created, updated, _version: version } as Item;
    const data = _serialize(m, k, item);
    const indexKeys = m.indexes.size > 0 ? m.indexKeys(fields) : undefined;
    const createdMs = Date.parse(created);
    const expires = m.expiresAt(fields);
    if (op === "create") {
      const r = this.#stmts.get(INSERT_ITEM)
        .run(m.name, k.pk, k.sk, version, createdMs, expires, data, now);
      if (r.changes === 0) {
        throw new DbError("conflict", `Item ${_keyText(k)} of "${m.name}" already exists`, {
          model: m.name,
        });
      }
    } else {
      this.#stmts.get(UPDATE_ITEM).run(version, createdMs, expires, data, m.name, k.pk, k.sk);
    }
    if (indexKeys) this.#writeIndexes(m, k, indexKeys);
    this.#changes.append(m.name, k.pk, k.sk, op, version, updated, origin);
    return item;
  }

  #writeIndexes(m: Model, k: RawKey, keys: [string, string][]): void {
    this.#stmts.get(DELETE_INDEX).run(m.name, k.pk, k.sk);
    for (const [idx, isk] of keys) this.#stmts.get(INSERT_INDEX).run(m.name, idx, k.pk, isk, k.sk);
  }

  async #runPurge(interval: number): Promise<void> {
    const signal = this.#purgeAbort.signal;
    while (!signal.aborted) {
      try {
        await this.clock.sleep(interval, signal);
      } catch {
        return; // aborted: closing
      }
      if (this.#closed) return;
      try {
        const r = this.purge();
        if (r.expired + r.retained > 0) this.log.debug("Purged items", { ...r });
      } catch (e) {
        this.log.warn("Purge failed; retrying at the next interval", { error: String(e) });
      }
    }
  }
}

/** Create the directory (0700) and an empty file (0600) before SQLite opens it. */
function _prepareFile(path: string): void {
  try {
    Deno.mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
  try {
    Deno.writeFileSync(path, new Uint8Array(), { createNew: true, mode: 0o600 });
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
}

function _serialize(m: Model, k: RawKey, item: Item): string {
  const data = JSON.stringify(item);
  // DynamoDB counts attribute names and values; JSON text plus the key is a close upper bound.
  const size = data.length + k.pk.length + k.sk.length + 4;
  if (size * 3 > MAX_ITEM_BYTES) {
    const bytes = utf8.encode(data).length + utf8.encode(k.pk + k.sk).length + 4;
    if (bytes > MAX_ITEM_BYTES) {
      throw new DbError(
        "too_large",
        `Item ${_keyText(k)} of "${m.name}" is ${bytes} bytes (DynamoDB allows ${MAX_ITEM_BYTES})`,
        { model: m.name },
      );
    }
  }
  return data;
}

function _fields(item: Item): Fields {
  const out: Fields = { ...item };
  for (const k of META) delete out[k];
  return out;
}

function _keyPart(m: Model, v: Key): Key {
  if (typeof v.pk === "string") {
    return { pk: v.pk, ...(typeof v.sk === "string" ? { sk: v.sk } : {}) };
  }
  const out: Key = {};
  for (const f of [...m.pk.fields, ...(m.sk?.fields ?? [])]) out[f] = v[f];
  return out;
}

function _meta(m: Model, item: Fields): { created?: string; updated?: string; _version?: number } {
  const out: { created?: string; updated?: string; _version?: number } = {};
  for (const k of ["created", "updated"] as const) {
    const v = item[k];
    if (v === undefined) continue;
    if (typeof v !== "string" || isNaN(Date.parse(v))) {
      throw new DbError("validation", `Invalid "${k}" for "${m.name}": expected an ISO 8601 date`, {
        model: m.name,
        field: k,
      });
    }
    out[k] = new Date(v).toISOString();
  }
  const v = item._version;
  if (v !== undefined) {
    if (!Number.isSafeInteger(v) || (v as number) < 1) {
      throw new DbError(
        "validation",
        `Invalid "_version" for "${m.name}": expected an integer ≥ 1`,
        {
          model: m.name,
          field: "_version",
        },
      );
    }
    out._version = v as number;
  }
  return out;
}

function _sameKey(m: Model, a: RawKey, b: RawKey): void {
  if (a.pk !== b.pk || a.sk !== b.sk) {
    throw new DbError(
      "validation",
      `The item's key ${_keyText(b)} differs from the key given ${_keyText(a)} for "${m.name}"`,
      { model: m.name },
    );
  }
}

function _notFound(m: Model, k: RawKey): DbError {
  return new DbError("not_found", `No item ${_keyText(k)} in "${m.name}"`, { model: m.name });
}

function _keyText(k: RawKey): string {
  return k.sk === "" ? JSON.stringify(k.pk) : `${JSON.stringify(k.pk)}/${JSON.stringify(k.sk)}`;
}

function _rowKey(row: Record<string, string>, index: boolean): string[] {
  return index ? [row.pk!, row.isk!, row.sk!] : [row.pk!, row.sk!];
}

function _filter(
  m: Model,
  where: FindOptions["where"],
): ((item: Item) => boolean) | undefined {
  if (where === undefined) return undefined;
  if (typeof where === "function") return where;
  const entries = Object.entries(where).map(([k, v]) => {
    if (!(k in m.def.fields) && !(META as readonly string[]).includes(k)) {
      const hit = suggest(k, m.fieldNames);
      throw new DbError(
        "validation",
        `Unknown field "${k}" in where of "${m.name}"${hit ? ` (did you mean "${hit}"?)` : ""}`,
        { model: m.name, field: k },
      );
    }
    return [k, m.def.fields[k]?.type === "date" ? m.keyValue(k, v) : v] as const;
  });
  return (item) => entries.every(([k, v]) => item[k] === v);
}

/**
 * Order of names by UTF-16 code unit. Not `localeCompare`: that loads ICU's
 * collation tables, about 2 MB of resident memory for the agent's life.
 */
function _byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
