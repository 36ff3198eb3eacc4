/**
 * What the up and down passes share: the database, the DynamoDB client, the
 * plan, sync's tables, counters and the conflict log.
 */

import type { DynamoDb } from "./dynamodb.ts";
import type { Clock } from "../lib/clock.ts";
import type { SyncConfig } from "../lib/config/mod.ts";
import type { Database } from "../lib/db/mod.ts";
import type { Logger } from "../lib/log/mod.ts";
import type { ConflictRecord } from "./conflict.ts";
import type { SyncedModel } from "./plan.ts";
import type { SyncState } from "./_state.ts";

/** Running totals since start (for status and metrics). */
export interface SyncCounters {
  /** Items written to the cloud (puts, deletes, tombstones). */
  sent: number;
  /** Cloud items applied to the device. */
  received: number;
  /** Cloud items read and found already applied (overlap window, own writes). */
  skipped: number;
  conflicts: number;
  /** Retries after throttling, unprocessed items or network failures. */
  retries: number;
  /** Cloud items that do not fit their model (logged, not applied). */
  rejected: number;
}

export interface SyncContext {
  readonly db: Database;
  readonly ddb: DynamoDb;
  readonly state: SyncState;
  readonly plan: Map<string, SyncedModel>;
  readonly deviceId: string;
  readonly config: SyncConfig;
  readonly clock: Clock;
  readonly log: Logger;
  readonly counters: SyncCounters;
  /** Record a conflict: logged, counted, kept in a short ring. */
  conflict(record: ConflictRecord): void;
}

/** Run `fn` over `items` with at most `limit` in flight. */
export async function eachLimit<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < items.length && failure === undefined) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        failure ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure;
}
