/**
 * Background housekeeping, run every `purgeInterval` ms on the injected
 * clock: delete TTL-expired items (reads already skip them), items past their
 * model's retention (`maxAge` by creation time, `maxItems` keeping the
 * newest), and change rows every consumer has passed. Purges are local
 * housekeeping: they write no change rows (DynamoDB expires items by its own
 * TTL). Each run deletes at most `BATCH` items per kind, so one run stays short.
 */

import type { Statements } from "./_sql.ts";
import type { ChangeLog } from "./changes.ts";
import type { Model } from "./model.ts";

/** Items deleted per kind in one run. */
export const BATCH = 5000;

/** What one purge run deleted. */
export interface PurgeResult {
  expired: number;
  retained: number;
  changes: number;
}

export function purge(
  stmts: Statements,
  models: Map<string, Model>,
  changes: ChangeLog,
  now: number,
  changeLogLimit: number,
): PurgeResult {
  const del = (model: string, pk: string, sk: string) => {
    stmts.get("DELETE FROM _items WHERE model = ? AND pk = ? AND sk = ?").run(model, pk, sk);
    stmts.get("DELETE FROM _index WHERE model = ? AND pk = ? AND sk = ?").run(model, pk, sk);
  };
  type Row = { model: string; pk: string; sk: string };
  const expired = stmts.get(
    "SELECT model, pk, sk FROM _items WHERE expires IS NOT NULL AND expires <= ? LIMIT ?",
  ).all(now, BATCH) as Row[];
  for (const r of expired) del(r.model, r.pk, r.sk);

  let retained = 0;
  for (const m of models.values()) {
    const r = m.def.retention;
    if (!r) continue;
    if (r.maxAge !== undefined) {
      const old = stmts.get(
        "SELECT model, pk, sk FROM _items WHERE model = ? AND created < ? LIMIT ?",
      ).all(m.name, now - r.maxAge, BATCH) as Row[];
      for (const x of old) del(x.model, x.pk, x.sk);
      retained += old.length;
    }
    if (r.maxItems !== undefined) {
      const extra = stmts.get(
        "SELECT model, pk, sk FROM _items WHERE model = ? ORDER BY created DESC, pk DESC, sk DESC LIMIT ? OFFSET ?",
      ).all(m.name, BATCH, r.maxItems) as Row[];
      for (const x of extra) del(x.model, x.pk, x.sk);
      retained += extra.length;
    }
  }
  return { expired: expired.length, retained, changes: changes.prune(changeLogLimit) };
}
