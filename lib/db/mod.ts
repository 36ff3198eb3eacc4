/**
 * Embedded database front door: `Database` (models, queries, change log,
 * cursors, transactions on node:sqlite in WAL mode), `DbError`, the
 * "database" service. See docs/database.md.
 */

export { Database } from "./database.ts";
export {
  type AuditActor,
  type AuditEvent,
  type AuditFilter,
  type AuditInput,
  AuditLog,
  type AuditRow,
  type AuditVerdict,
} from "./audit.ts";
export { sha256Base64Sync, sha256HexSync } from "./_sha256.ts";
export { dataVersionReader } from "./_sql.ts";
export { DbError, type DbErrorCode, type DbErrorOptions } from "./errors.ts";
export { MAX_ITEM_BYTES, MAX_KEY_BYTES, Model } from "./model.ts";
export type { PurgeResult } from "./purge.ts";
export { DatabaseService, databaseService } from "./service.ts";
export { ulidFactory } from "./ulid.ts";
export type {
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
  Range,
  RawKey,
  UpdateOptions,
  WriteOptions,
} from "./types.ts";
export type { FieldDef, ModelDef, ModelInput } from "../config/mod.ts";
