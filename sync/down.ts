/**
 * Down-sync: cloud → device. For each table of the models synced "down" or
 * "both", and for each address — this device's id and "*" (every device) —
 * query the index `_to` + `updated` for items updated since the cursor minus
 * the overlap window (a cloud writer whose clock lags never loses a change),
 * then apply each item with origin `cloud`:
 *
 * - "down" models: the cloud is the authority; an item is applied unless the
 *   device already holds that version.
 * - "both" models: applied when only the cloud changed since the base; when
 *   both sides changed, the model's policy decides (`conflict.ts`) and a
 *   winning device version is written back up at once.
 *
 * The cursor (`down:TABLE:ADDRESS` in `_sync_state`) moves to the highest
 * `updated` read, after each page, but never past the present: an item
 * stamped ahead does not hide the items written after it.
 */

import { type CloudItem, fromCloudItem } from "./cloud_item.ts";
import type { AttributeValue, QueryOutput } from "./dynamodb.ts";
import { resolveConflict, sameStamp } from "./conflict.ts";
import type { SyncContext } from "./_context.ts";
import { applyCloud, localState, touch } from "./local.ts";
import { downTables, type SyncedModel } from "./plan.ts";
import { withRetry } from "./_retry.ts";
import type { Uploader } from "./up.ts";

/** Result of one down pass. */
export interface DownResult {
  /** Items read from the cloud. */
  read: number;
  /** Items applied on the device. */
  applied: number;
}

/** The state key of a down cursor. */
export const downCursorKey = (table: string, address: string) => `down:${table}:${address}`;

export class Downloader {
  readonly #ctx: SyncContext;
  readonly #up: Uploader;

  constructor(ctx: SyncContext, up: Uploader) {
    this.#ctx = ctx;
    this.#up = up;
  }

  /** Read and apply what changed; `full` ignores the cursors (re-reads everything). */
  async pass(signal?: AbortSignal, full = false): Promise<DownResult> {
    const result: DownResult = { read: 0, applied: 0 };
    const state = this.#ctx.state;
    for (const [table, models] of downTables(this.#ctx.plan)) {
      // A model newly synced down reads its table from the start once (`initial-down:MODEL`).
      const fresh = models.filter((m) => !state.get(`initial-down:${m.name}`));
      for (const address of [this.#ctx.deviceId, "*"]) {
        await this.#query(
          table,
          address,
          new Map(models.map((m) => [m.name, m])),
          full || fresh.length > 0,
          result,
          signal,
        );
      }
      const now = new Date(this.#ctx.clock.now()).toISOString();
      for (const m of fresh) state.set(`initial-down:${m.name}`, now);
    }
    return result;
  }

  async #query(
    table: string,
    address: string,
    models: Map<string, SyncedModel>,
    full: boolean,
    result: DownResult,
    signal?: AbortSignal,
  ): Promise<void> {
    const ctx = this.#ctx;
    const key = downCursorKey(table, address);
    const stored = ctx.state.get(key);
    let since = full ? undefined : stored;
    let healed = false;
    /** The highest stamp read (up to the present), and what the state holds. */
    let high = "";
    let saved = stored;
    let start: Record<string, AttributeValue> | undefined;
    for (;;) {
      const from = since === undefined
        ? undefined
        : new Date(Math.max(0, Date.parse(since) - ctx.config.overlap)).toISOString();
      const page = await this.#page(table, address, from, start, signal);
      // The cursor never passes the cloud's present: this device's clock, corrected by what a
      // refused signature taught the client (so read after a request). One item stamped ahead
      // (a writer's clock, a typo) would otherwise hide every item written after it until that
      // time; items stamped ahead are read again each pass and skipped (the device holds them).
      const ceiling = new Date(ctx.clock.now() + ctx.ddb.clockSkewMs).toISOString();
      if (!healed && since !== undefined && since > ceiling) {
        // A cursor ahead of the present (the clock was set back, or an earlier version let an
        // item stamped ahead move it): read again from the present.
        healed = true;
        since = ceiling;
        start = undefined;
        continue;
      }
      // Never behind the stored cursor, unless that was ahead of the present.
      const floor = stored === undefined ? "" : stored < ceiling ? stored : ceiling;
      if (floor > high) high = floor;
      // Apply the page in one transaction; a device version that wins is sent after it.
      const send: CloudItem[] = [];
      ctx.db.transaction(() => {
        for (const attrs of page.Items ?? []) {
          const c = fromCloudItem(attrs);
          result.read++;
          if (!c) continue;
          const m = models.get(c.model);
          const r = m ? this.#apply(m, c) : "skipped";
          if (r === "applied") result.applied++;
          else if (r === "send") send.push(c);
          const seen = c.stamp.updated < ceiling ? c.stamp.updated : ceiling;
          if (seen > high) high = seen;
        }
      });
      for (const c of send) await this.#up.sendOne(models.get(c.model)!, c.key, signal);
      if (high !== "" && high !== saved) ctx.state.set(key, saved = high);
      start = page.LastEvaluatedKey;
      if (!start) break;
    }
  }

  /** One page of the index for `address`, from `from` (ISO) on, retried with backoff. */
  #page(
    table: string,
    address: string,
    from: string | undefined,
    start: Record<string, AttributeValue> | undefined,
    signal?: AbortSignal,
  ): Promise<QueryOutput> {
    const ctx = this.#ctx;
    return withRetry(
      () =>
        ctx.ddb.query(
          {
            TableName: table,
            IndexName: ctx.config.index,
            KeyConditionExpression: from ? "#t = :t AND #u >= :from" : "#t = :t",
            ExpressionAttributeNames: from ? { "#t": "_to", "#u": "updated" } : { "#t": "_to" },
            ExpressionAttributeValues: {
              ":t": { S: address },
              ...(from ? { ":from": { S: from } } : {}),
            },
            Limit: ctx.config.pageSize,
            ...(start ? { ExclusiveStartKey: start } : {}),
          },
          signal ? { signal } : {},
        ),
      {
        clock: ctx.clock,
        min: Math.min(100, ctx.config.backoff.min),
        max: ctx.config.backoff.max,
        ...(signal ? { signal } : {}),
        onRetry: () => void ctx.counters.retries++,
      },
    );
  }

  /** Decide on one cloud item and apply it (synchronous: inside the page's transaction). */
  #apply(m: SyncedModel, c: CloudItem): "applied" | "skipped" | "send" {
    const ctx = this.#ctx;
    const local = localState(ctx, m, c.key);
    const done = (ok: boolean) => ok ? "applied" : "skipped";
    if (m.direction === "down") {
      const have = local.item
        ? { updated: local.item.updated, version: local.item._version, deleted: false }
        : undefined;
      if (c.stamp.deleted ? !have : sameStamp(have, c.stamp)) {
        ctx.counters.skipped++;
        return "skipped";
      }
      return done(applyCloud(ctx, m, c));
    }
    const base = ctx.state.base(m.name, c.key.pk, c.key.sk);
    if (sameStamp(base, c.stamp)) {
      ctx.counters.skipped++;
      return "skipped";
    }
    if (sameStamp(local.stamp, c.stamp) && (c.device === ctx.deviceId || c.stamp.deleted)) {
      // This device's own write (its base was not recorded before a crash).
      ctx.state.setBase(m.name, c.key.pk, c.key.sk, c.stamp);
      ctx.counters.skipped++;
      return "skipped";
    }
    const deviceChanged = base ? !sameStamp(local.stamp, base) : local.stamp !== undefined;
    if (!deviceChanged) return done(applyCloud(ctx, m, c, local));
    const winner = resolveConflict(m.conflict, local.stamp, c.stamp);
    ctx.conflict({
      model: m.name,
      pk: c.key.pk,
      sk: c.key.sk,
      policy: m.conflict,
      device: local.stamp ?? null,
      cloud: c.stamp,
      winner,
      at: ctx.clock.now(),
    });
    if (winner === "cloud") return done(applyCloud(ctx, m, c, local));
    // The device's version wins: the cloud's is now the base it replaces.
    ctx.state.setBase(m.name, c.key.pk, c.key.sk, c.stamp);
    if (local.item && sameStamp(local.stamp, c.stamp)) touch(ctx, m, local.item);
    return "send";
  }
}
