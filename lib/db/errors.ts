/**
 * `DbError`: the one error class of the database for conditions callers
 * catch. `code` says what happened; `model` and `field` say where; `status`
 * and `expose` say what it means to an HTTP client (validation 400,
 * not_found 404, conflict 409, too_large 413, busy 503, full 507).
 */

/** What went wrong. */
export type DbErrorCode =
  /** An item or key does not fit its model (unknown field, wrong type, missing required field…). */
  | "validation"
  /** No item with that key (get/update/remove). */
  | "not_found"
  /** The item already exists (create), or `ifVersion` did not match the stored version. */
  | "conflict"
  /** A key over 1 KB or an item over 400 KB (DynamoDB's limits). */
  | "too_large"
  /** No model by that name. */
  | "unknown_model"
  /** A model definition is invalid (define / open). */
  | "schema"
  /** The stored data cannot be migrated to the new schema without losing or rewriting data. */
  | "migration"
  /** The database is closed. */
  | "closed"
  /**
   * Another process held the write lock for longer than `busyTimeout`
   * (SQLite's "database is locked"). Nothing was written; retrying later can
   * succeed (the web server answers 503 with Retry-After).
   */
  | "busy"
  /**
   * The storage is full (SQLite's "database or disk is full": the file
   * system has no room for the database or its write-ahead log). Nothing was
   * written; the same write succeeds once space is freed (the web server
   * answers 507). The database logs the episode once, not each refused write.
   */
  | "full";

/** Options of {@linkcode DbError}. */
export interface DbErrorOptions extends ErrorOptions {
  model?: string;
  field?: string;
}

export class DbError extends Error {
  override readonly name = "DbError";
  readonly code: DbErrorCode;
  /** The model concerned, when there is one. */
  readonly model: string | undefined;
  /** The field concerned, when there is one. */
  readonly field: string | undefined;

  /**
   * True for errors that retrying cannot fix (an invalid schema, a migration
   * that would lose data): the supervisor does not restart the database and
   * the agent exits 78 at start. See `isPermanent()` in lib/service.ts.
   */
  get permanent(): boolean {
    return this.code === "schema" || this.code === "migration";
  }

  /**
   * The HTTP status this error means to a client of the web server (its error boundary reads
   * `status` and `expose`, as of any error): 400 validation, 404 not_found and unknown_model,
   * 409 conflict, 413 too_large, 503 busy, 507 full; 500 for the rest.
   */
  get status(): number {
    return STATUS[this.code] ?? 500;
  }

  /** Whether the message may be shown to a client (every status but 500). */
  get expose(): boolean {
    return this.status !== 500;
  }

  constructor(code: DbErrorCode, message: string, options: DbErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.model = options.model;
    this.field = options.field;
  }
}

const STATUS: Partial<Record<DbErrorCode, number>> = {
  validation: 400,
  not_found: 404,
  unknown_model: 404,
  conflict: 409,
  too_large: 413,
  busy: 503,
  full: 507,
};

/** SQLite's messages for a lock another connection holds (BUSY, LOCKED). */
const LOCKED = /^database (table )?is locked|^database is busy/;
/** SQLite's message for SQLITE_FULL (no room on the file system, or max_page_count reached). */
const FULL = /^database or disk is full/;

/**
 * `e` as a `DbError` when it is SQLite reporting a condition callers handle —
 * `busy` (a lock held by another connection) or `full` (no room left) — else
 * `e` unchanged (node:sqlite gives no error number here, only the message).
 */
export function fromSqlite(e: unknown): unknown {
  if (!(e instanceof Error) || e instanceof DbError) return e;
  if (LOCKED.test(e.message)) {
    return new DbError(
      "busy",
      "The database is locked by another process (longer than busyTimeout); nothing was written, retry later",
      { cause: e },
    );
  }
  if (FULL.test(e.message)) {
    return new DbError(
      "full",
      "The device's storage is full; nothing was written. Retry once space is freed",
      { cause: e },
    );
  }
  return e;
}
