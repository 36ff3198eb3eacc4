/**
 * Schema migrations. The definitions last applied are kept in `_meta`
 * (`models`). When a model's definition changes and it already holds items:
 * - new fields, new indexes, changed retention/sync/table: applied (indexes
 *   are built for the stored items, a removed index's rows are deleted, a
 *   changed ttl field recomputes expiry times);
 * - changed key templates, or stored items that no longer validate (a field
 *   removed or retyped, a new required field without default): stopped with
 *   a `migration` DbError naming the model, field and items concerned. Data
 *   is never rewritten to fit: export, fix and import it, or revert the schema.
 */

import type { ModelDef } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Statements } from "./_sql.ts";
import { DbError } from "./errors.ts";
import { META, type Model } from "./model.ts";

/** The model definitions last applied, by name. */
export function loadStoredModels(stmts: Statements): Record<string, ModelDef> {
  const row = stmts.get("SELECT value FROM _meta WHERE key = 'models'").get() as
    | { value: string }
    | undefined;
  return row ? JSON.parse(row.value) : {};
}

function _store(stmts: Statements, name: string, def: ModelDef): void {
  const all = loadStoredModels(stmts);
  all[name] = def;
  stmts.get(
    "INSERT INTO _meta (key, value) VALUES ('models', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
  ).run(JSON.stringify(all));
}

/** Apply one model definition (inside a transaction). */
export function applyModel(
  stmts: Statements,
  m: Model,
  stored: ModelDef | undefined,
  now: number,
  log: Logger,
): void {
  if (stored && _same(stored, m.def)) return;
  const count = Number(
    (stmts.get("SELECT count(*) AS n FROM _items WHERE model = ?").get(m.name) as { n: number }).n,
  );
  if (count > 0) {
    if (stored && (stored.pk !== m.def.pk || (stored.sk ?? null) !== (m.def.sk ?? null))) {
      throw new DbError(
        "migration",
        `Cannot change the key of "${m.name}" (pk ${JSON.stringify(stored.pk)} → ${
          JSON.stringify(m.def.pk)
        }, sk ${JSON.stringify(stored.sk ?? null)} → ${
          JSON.stringify(m.def.sk ?? null)
        }) while it holds ${count} item(s): export the items, change the schema, import them`,
        { model: m.name },
      );
    }
    _validateStored(stmts, m, count);
    _rebuild(stmts, m, stored);
  } else {
    stmts.get("DELETE FROM _index WHERE model = ?").run(m.name);
  }
  if (stored) log.info(`Migrated model "${m.name}"`, { model: m.name, items: count, now });
  _store(stmts, m.name, m.def);
}

function _same(a: ModelDef, b: ModelDef): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function _validateStored(stmts: Statements, m: Model, count: number): void {
  const problems: string[] = [];
  let bad = 0;
  let field: string | undefined;
  const rows = stmts.get("SELECT pk, sk, data FROM _items WHERE model = ?").iterate(
    m.name,
  ) as Iterable<{ pk: string; sk: string; data: string }>;
  for (const row of rows) {
    const item = JSON.parse(row.data) as Record<string, unknown>;
    for (const k of META) delete item[k];
    try {
      const fields = m.prepare(item, () => "");
      const key = m.keyOf(fields);
      if (key.pk !== row.pk || key.sk !== row.sk) throw new Error("its key would change");
    } catch (e) {
      bad++;
      field ??= (e as DbError).field;
      if (problems.length < 3) {
        problems.push(
          `${JSON.stringify(row.pk)}/${JSON.stringify(row.sk)}: ${(e as Error).message}`,
        );
      }
    }
  }
  if (bad > 0) {
    throw new DbError(
      "migration",
      `The new definition of "${m.name}" does not fit ${bad} of its ${count} stored item(s) (${
        problems.join("; ")
      }): add a default, make the field optional, or export, fix and import the items`,
      field === undefined ? { model: m.name } : { model: m.name, field },
    );
  }
}

function _rebuild(stmts: Statements, m: Model, stored: ModelDef | undefined): void {
  const indexesChanged = JSON.stringify(stored?.indexes ?? {}) !== JSON.stringify(m.def.indexes);
  const ttlChanged = _ttl(stored) !== m.ttlField;
  if (!indexesChanged && !ttlChanged) return;
  if (indexesChanged) stmts.get("DELETE FROM _index WHERE model = ?").run(m.name);
  const rows = stmts.get("SELECT pk, sk, data FROM _items WHERE model = ?").all(m.name) as {
    pk: string;
    sk: string;
    data: string;
  }[];
  const ins = stmts.get(
    "INSERT OR REPLACE INTO _index (model, idx, pk, isk, sk) VALUES (?, ?, ?, ?, ?)",
  );
  const exp = stmts.get("UPDATE _items SET expires = ? WHERE model = ? AND pk = ? AND sk = ?");
  for (const row of rows) {
    const fields = JSON.parse(row.data) as Record<string, unknown>;
    if (indexesChanged) {
      for (const [idx, isk] of m.indexKeys(fields)) ins.run(m.name, idx, row.pk, isk, row.sk);
    }
    if (ttlChanged) exp.run(m.expiresAt(fields), m.name, row.pk, row.sk);
  }
}

function _ttl(def: ModelDef | undefined): string | undefined {
  if (!def) return undefined;
  return Object.entries(def.fields).find(([, f]) => f.ttl)?.[0];
}
