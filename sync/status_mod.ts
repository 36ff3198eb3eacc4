/**
 * A second, small front door for reading sync's status without loading the
 * AWS SDK (`tern sync status`): the persisted state, the plan and the status
 * reader only.
 */

export { planModels, type SyncedModel } from "./plan.ts";
export { readStatus, type SyncStatus } from "./status.ts";
export { SyncState, UP_CURSOR } from "./_state.ts";
