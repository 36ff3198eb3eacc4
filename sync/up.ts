/**
 * Up-sync: device → cloud. One pass reads the change log after the cursor
 * "sync" (`readSize` rows), coalesces the rows of one item to its current
 * state (only items whose last change came from this device: cloud-applied
 * writes are never echoed), and writes:
 *
 * - models synced "up": `BatchWriteItem` of `batchSize` puts/deletes,
 *   `concurrency` requests at once; unprocessed items and throttling are
 *   retried with full-jitter backoff. The current state is sent, so a retry
 *   is harmless.
 * - models synced "both": one conditional `PutItem` per item (the cloud
 *   must still hold the base version), a tombstone for a delete; a failed
 *   condition is a conflict resolved by the model's policy (`conflict.ts`).
 *
 * The cursor then moves to just before the first change whose item was not
 * accepted, so nothing is skipped and accepted work is not redone.
 */

import { AwsApiError } from "../lib/aws/mod.ts";
import { Backoff } from "../lib/backoff.ts";
import type { Change, RawKey } from "../lib/db/mod.ts";
import { cloudKey, fromCloudItem, toCloudItem, toTombstone } from "./cloud_item.ts";
import { resolveConflict, sameStamp, type Stamp } from "./conflict.ts";
import { eachLimit, type SyncContext } from "./_context.ts";
import type { WriteRequest } from "./dynamodb.ts";
import { applyCloud, localState, touch } from "./local.ts";
import type { SyncedModel } from "./plan.ts";
import { isConditionFailed, withRetry } from "./_retry.ts";
import { UP_CURSOR } from "./_state.ts";

/** One item to send: model and raw key. */
export interface UpKey {
  model: SyncedModel;
  key: RawKey;
}

/** Result of one up pass. */
export interface UpResult {
  /** Change rows the cursor moved past. */
  advanced: number;
  /** Items accepted by the cloud (or found already there). */
  accepted: number;
  /** Items not accepted (retried on the next pass). */
  failed: number;
  /** True when the change log after the cursor is empty. */
  drained: boolean;
}

const _id = (m: string, k: RawKey) => `${m}\u0000${k.pk}\u0000${k.sk}`;

export class Uploader {
  readonly #ctx: SyncContext;

  constructor(ctx: SyncContext) {
    this.#ctx = ctx;
  }

  /** Send the next `readSize` changes and move the cursor. */
  async pass(signal?: AbortSignal): Promise<UpResult> {
    const ctx = this.#ctx;
    const cursor = ctx.db.cursor(UP_CURSOR);
    const since = cursor.get();
    const rows = ctx.db.changes(since, { limit: ctx.config.readSize });
    if (rows.length === 0) return { advanced: 0, accepted: 0, failed: 0, drained: true };
    // Coalesce: the last change of each item decides; remember each item's first row.
    const last = new Map<string, Change>();
    const first = new Map<string, number>();
    for (const r of rows) {
      const id = _id(r.model, r);
      last.set(id, r);
      if (!first.has(id)) first.set(id, r.seq);
    }
    const keys: UpKey[] = [];
    for (const [, r] of last) {
      const m = ctx.plan.get(r.model);
      if (!m || (m.direction !== "up" && m.direction !== "both")) continue;
      if (r.origin !== "local") continue;
      keys.push({ model: m, key: { pk: r.pk, sk: r.sk } });
    }
    const accepted = new Set<string>();
    let error: unknown;
    try {
      await this.send(keys, signal, false, accepted);
    } catch (e) {
      error = e; // keep what was accepted: the cursor still moves up to the first failure
    }
    let stop = rows.at(-1)!.seq;
    let failed = 0;
    for (const k of keys) {
      const id = _id(k.model.name, k.key);
      if (accepted.has(id)) continue;
      failed++;
      stop = Math.min(stop, first.get(id)! - 1);
    }
    if (stop > since) cursor.set(stop);
    if (error !== undefined) throw error;
    const advanced = rows.filter((r) => r.seq <= stop).length;
    return {
      advanced,
      accepted: accepted.size,
      failed,
      drained: failed === 0 && rows.length < ctx.config.readSize,
    };
  }

  /**
   * Send the current state of these items; returns (and adds to `accepted`)
   * the ids accepted. After a failure no new request starts; the first
   * failure is thrown once the requests in flight have settled.
   */
  async send(
    keys: UpKey[],
    signal?: AbortSignal,
    force = false,
    accepted = new Set<string>(),
  ): Promise<Set<string>> {
    const plain = keys.filter((k) => k.model.direction === "up");
    const both = keys.filter((k) => k.model.direction === "both");
    // Both halves run to their end before a failure is reported: nothing keeps running after.
    const results = await Promise.allSettled([
      this.#sendBatches(plain, accepted, signal),
      eachLimit(both, this.#ctx.config.concurrency, async (k) => {
        if (await this.sendOne(k.model, k.key, signal, force)) {
          accepted.add(_id(k.model.name, k.key));
        }
      }),
    ]);
    for (const r of results) if (r.status === "rejected") throw r.reason;
    return accepted;
  }

  async #sendBatches(keys: UpKey[], accepted: Set<string>, signal?: AbortSignal): Promise<void> {
    const ctx = this.#ctx;
    // Group by table and cut into batches; each request is built just before it is sent,
    // so reading and marshalling items overlaps the requests in flight.
    const byTable = new Map<string, UpKey[]>();
    for (const k of keys) {
      const list = byTable.get(k.model.table) ?? [];
      list.push(k);
      byTable.set(k.model.table, list);
    }
    const batches: { table: string; keys: UpKey[] }[] = [];
    for (const [table, list] of byTable) {
      for (let i = 0; i < list.length; i += ctx.config.batchSize) {
        batches.push({ table, keys: list.slice(i, i + ctx.config.batchSize) });
      }
    }
    await eachLimit(batches, ctx.config.concurrency, async (b) => {
      const entries = b.keys.map(({ model: m, key: k }) => {
        const { item } = localState(ctx, m, k);
        const req: WriteRequest = item
          ? { PutRequest: { Item: toCloudItem(m, k, item, ctx.deviceId) } }
          : { DeleteRequest: { Key: cloudKey(k) } };
        return { id: _id(m.name, k), req };
      });
      for (const id of await this.#writeBatch(b.table, entries, signal)) accepted.add(id);
    });
  }

  /** One BatchWriteItem with retries of unprocessed items; returns the ids written. */
  async #writeBatch(
    table: string,
    entries: { id: string; req: WriteRequest }[],
    signal?: AbortSignal,
  ): Promise<string[]> {
    const ctx = this.#ctx;
    const backoff = new Backoff({ min: 50, max: ctx.config.backoff.max });
    let pending = entries;
    const done: string[] = [];
    for (let attempt = 0; attempt < 8 && pending.length > 0; attempt++) {
      if (attempt > 0) {
        ctx.counters.retries++;
        await ctx.clock.sleep(backoff.next(), signal);
      }
      let out;
      try {
        out = await withRetry(
          () =>
            ctx.ddb.batchWriteItem(
              { RequestItems: { [table]: pending.map((e) => e.req) } },
              signal ? { signal } : {},
            ),
          this.#retryOptions(signal),
        );
      } catch (e) {
        if (!_isValidation(e)) throw e;
        // DynamoDB refuses the batch because of some item: find it, one request each.
        for (const id of await this.#writeOneByOne(table, pending, signal)) done.push(id);
        return done;
      }
      const left = out.UnprocessedItems?.[table] ?? [];
      const still: typeof pending = [];
      if (left.length === 0) {
        for (const e of pending) done.push(e.id);
      } else {
        const unprocessed = new Set(left.map((r) => JSON.stringify(_reqKey(r))));
        for (const e of pending) {
          if (unprocessed.has(JSON.stringify(_reqKey(e.req)))) still.push(e);
          else done.push(e.id);
        }
      }
      ctx.counters.sent += pending.length - still.length;
      pending = still;
    }
    return done;
  }

  /**
   * Write entries one request each after a batch was refused. An item DynamoDB
   * refuses (a number out of its range…) can never be written: it is logged,
   * counted as rejected and passed, so it does not block the items after it.
   */
  async #writeOneByOne(
    table: string,
    entries: { id: string; req: WriteRequest }[],
    signal?: AbortSignal,
  ): Promise<string[]> {
    const ctx = this.#ctx;
    const done: string[] = [];
    for (const e of entries) {
      const options = signal ? { signal } : {};
      const put = e.req.PutRequest;
      try {
        await withRetry(
          () =>
            put
              ? ctx.ddb.putItem({ TableName: table, Item: put.Item }, options)
              : ctx.ddb.deleteItem({ TableName: table, Key: e.req.DeleteRequest!.Key }, options),
          this.#retryOptions(signal),
        );
        ctx.counters.sent++;
      } catch (err) {
        if (!_isValidation(err)) throw err;
        ctx.counters.rejected++;
        const [pk, sk] = _reqKey(e.req) as [string, string];
        ctx.log.error("DynamoDB refused an item; it is skipped", {
          table,
          pk,
          sk,
          error: (err as Error).message,
        });
      }
      done.push(e.id);
    }
    return done;
  }

  /**
   * Send one item of a "both" model with a condition on the cloud's version.
   * Resolves a conflict by the model's policy. True once settled. `force`
   * sends even when the base says the cloud has it (`sync full`).
   */
  async sendOne(
    m: SyncedModel,
    k: RawKey,
    signal?: AbortSignal,
    force = false,
  ): Promise<boolean> {
    const ctx = this.#ctx;
    const local = localState(ctx, m, k);
    const base = ctx.state.base(m.name, k.pk, k.sk);
    if (!local.stamp || (!force && sameStamp(local.stamp, base))) return true;
    let expected: Stamp | undefined = base;
    // The cloud holds an item without Tern's attributes (written by hand): replaced.
    let foreign = false;
    for (let attempt = 0; attempt < 3; attempt++) {
      const item = local.item
        ? toCloudItem(m, k, local.item, ctx.deviceId)
        : toTombstone(m, k, local.stamp, ctx.deviceId, ctx.clock.now(), ctx.config.tombstoneTtl);
      const values = {
        ":lu": { S: local.stamp.updated },
        ":lv": { N: String(local.stamp.version) },
        ":me": { S: ctx.deviceId },
        ...(expected
          ? { ":eu": { S: expected.updated }, ":ev": { N: String(expected.version) } }
          : {}),
      };
      // Already written by this device (a retry after a crash): accepted as is.
      const mine = "(#u = :lu AND #v = :lv AND #d = :me)";
      try {
        await withRetry(
          () =>
            ctx.ddb.putItem(
              {
                TableName: m.table,
                Item: item,
                ConditionExpression: expected
                  ? `(#u = :eu AND #v = :ev) OR ${mine}`
                  : foreign
                  ? `attribute_not_exists(pk) OR attribute_not_exists(#u) OR ${mine}`
                  : `attribute_not_exists(pk) OR ${mine}`,
                ExpressionAttributeNames: { "#u": "updated", "#v": "_version", "#d": "_device" },
                ExpressionAttributeValues: values,
              },
              signal ? { signal } : {},
            ),
          this.#retryOptions(signal),
        );
        ctx.state.setBase(m.name, k.pk, k.sk, local.stamp);
        ctx.counters.sent++;
        return true;
      } catch (e) {
        if (_isValidation(e)) {
          ctx.counters.rejected++;
          ctx.log.error("DynamoDB refused an item; it is skipped", {
            table: m.table,
            pk: k.pk,
            sk: k.sk,
            error: (e as Error).message,
          });
          return true;
        }
        if (!isConditionFailed(e)) throw e;
      }
      // The cloud changed since the base: read it and resolve.
      const got = await withRetry(
        () =>
          ctx.ddb.getItem(
            { TableName: m.table, Key: cloudKey(k), ConsistentRead: true },
            signal ? { signal } : {},
          ),
        this.#retryOptions(signal),
      );
      const cloud = got.Item ? fromCloudItem(got.Item) : undefined;
      if (got.Item && !cloud) {
        ctx.log.warn(`Cloud item of "${m.name}" has no updated/_model; the device's replaces it`, {
          pk: k.pk,
          sk: k.sk,
        });
        foreign = true;
      }
      if (cloud && sameStamp(cloud.stamp, local.stamp) && cloud.device === ctx.deviceId) {
        ctx.state.setBase(m.name, k.pk, k.sk, local.stamp);
        return true;
      }
      const winner = resolveConflict(m.conflict, local.stamp, cloud?.stamp);
      ctx.conflict({
        model: m.name,
        pk: k.pk,
        sk: k.sk,
        policy: m.conflict,
        device: local.stamp,
        cloud: cloud?.stamp ?? null,
        winner,
        at: ctx.clock.now(),
      });
      if (winner === "cloud" && cloud) {
        applyCloud(ctx, m, cloud, { stamp: local.stamp });
        return true;
      }
      if (cloud && local.item && sameStamp(cloud.stamp, local.stamp)) {
        // The device wins a tie: give its item a newer stamp; the next pass sends it.
        ctx.state.setBase(m.name, k.pk, k.sk, cloud.stamp);
        touch(ctx, m, local.item);
        return true;
      }
      expected = cloud?.stamp;
    }
    return false;
  }

  #retryOptions(signal?: AbortSignal) {
    const ctx = this.#ctx;
    return {
      clock: ctx.clock,
      min: Math.min(100, ctx.config.backoff.min),
      max: ctx.config.backoff.max,
      ...(signal ? { signal } : {}),
      onRetry: () => void ctx.counters.retries++,
    };
  }
}

function _isValidation(e: unknown): boolean {
  return e instanceof AwsApiError && e.type === "ValidationException";
}

function _reqKey(r: WriteRequest): unknown {
  const key = r.PutRequest ? r.PutRequest.Item : r.DeleteRequest?.Key;
  return [key?.pk?.S, key?.sk?.S];
}
