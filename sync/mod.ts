/**
 * Sync front door: replication of the embedded database with DynamoDB, per
 * model and direction (schema.json5 `sync`, `table`). The engine (up: the
 * change log → batched writes; down: the `_to` + `updated` index → writes
 * with origin `cloud`; conflicts; cursors; status), the "sync" service, the
 * DynamoDB client factory and the cloud item format. See docs/sync.md.
 */

export { SyncEngine, type SyncEngineOptions, type SyncReport } from "./engine.ts";
export { SyncService, syncService } from "./service.ts";
export { createDynamoClient, type DynamoClientOptions } from "./client.ts";
export {
  type AttributeMap,
  type AttributeValue,
  DynamoDb,
  type DynamoDbOptions,
  type WriteRequest,
} from "./dynamodb.ts";
export {
  type CloudItem,
  cloudKey,
  fromCloudItem,
  NO_SK,
  SYNC_ATTRIBUTES,
  toCloudItem,
} from "./cloud_item.ts";
export {
  compareStamps,
  type ConflictRecord,
  resolveConflict,
  sameStamp,
  type Stamp,
} from "./conflict.ts";
export { planModels, type SyncedModel } from "./plan.ts";
export { readStatus, type SyncStatus } from "./status.ts";
export { SyncState, UP_CURSOR } from "./_state.ts";
export { downCursorKey } from "./down.ts";
export { fromAttributes, toAttributes } from "./_marshal.ts";
