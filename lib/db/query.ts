/**
 * Turns a `find` query into SQL over `_items` (or `_index` for a local
 * secondary index): the partition key by equality, the sort key by equality,
 * prefix or range, paging by an opaque `next` cursor (the last key returned,
 * base64url JSON), expired items left out.
 *
 * Ranges over a sort-key field are relative to the template text before it:
 * with `sk: "Reading#${time}"`, `{ time: { gte: "2024-05-01" } }` becomes
 * `sk >= "Reading#2024-05-01…" AND sk < "Reading#\u{10FFFF}"`.
 */

import { DbError } from "./errors.ts";
import type { Model } from "./model.ts";
import type { Template } from "./template.ts";
import type { FindOptions, Query, Range } from "./types.ts";

/** Sorts after every other character: the upper bound of a prefix. */
const MAX = "\u{10FFFF}";
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();
const RANGE_KEYS = new Set(["beginsWith", "gt", "gte", "lt", "lte", "between"]);

/** A compiled find: SQL, its parameters, and how to read the cursor of a row. */
export interface FindPlan {
  sql: string;
  params: (string | number)[];
  /** Index queries return the index sort key as `isk` too. */
  index: boolean;
}

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 10_000;

/** Build the SQL of a find. `limit` is applied by the caller (it may need one row more). */
export function planFind(m: Model, query: Query, options: FindOptions, now: number): FindPlan {
  if (typeof query !== "object" || query === null || Array.isArray(query)) {
    throw new DbError("validation", `A query of "${m.name}" must be an object`, { model: m.name });
  }
  const index = options.index;
  let skTemplate: Template | undefined = m.sk;
  if (index !== undefined) {
    skTemplate = m.indexes.get(index);
    if (!skTemplate) {
      const known = [...m.indexes.keys()];
      throw new DbError(
        "validation",
        `Unknown index "${index}" on "${m.name}" (${
          known.length ? `indexes: ${known.join(", ")}` : "it has no indexes"
        })`,
        { model: m.name },
      );
    }
  }
  const used = new Set<string>();
  const where: string[] = [];
  const params: (string | number)[] = [];
  const t = index === undefined ? "i" : "x";
  where.push(`${t}.model = ?`);
  params.push(m.name);
  if (index !== undefined) {
    where.push("x.idx = ?");
    params.push(index);
  }

  // Partition key.
  if (typeof query.pk === "string") {
    used.add("pk");
    where.push(`${t}.pk = ?`);
    params.push(query.pk);
  } else {
    const present = m.pk.fields.filter((f) => query[f] !== undefined);
    if (present.length === m.pk.fields.length) {
      const values: Record<string, unknown> = {};
      for (const f of m.pk.fields) {
        used.add(f);
        values[f] = m.keyValue(f, query[f]);
      }
      where.push(`${t}.pk = ?`);
      params.push(m.pk.render(values));
    } else if (present.length > 0) {
      const missing = m.pk.fields.filter((f) => query[f] === undefined);
      throw new DbError(
        "validation",
        `A query of "${m.name}" needs every partition key field (${
          m.pk.fields.join(", ")
        }); missing ${missing.join(", ")}`,
        { model: m.name, field: missing[0]! },
      );
    }
  }

  // Sort key: raw, or template fields in order.
  const col = index === undefined ? "i.sk" : "x.isk";
  const sk = query.sk;
  if (sk !== undefined) {
    used.add("sk");
    if (typeof sk === "string") {
      where.push(`${col} = ?`);
      params.push(sk);
    } else _range(m, "sk", sk, "", false, (v) => String(v), col, where, params);
  } else if (skTemplate) {
    let prefix = skTemplate.literals[0]!;
    let state: "exact" | "prefix" | "range" = "exact";
    for (let i = 0; i < skTemplate.fields.length; i++) {
      const f = skTemplate.fields[i]!;
      const v = query[f];
      if (v === undefined) {
        state = "prefix";
        break;
      }
      used.add(f);
      if (_isRange(v)) {
        const suffix = i < skTemplate.fields.length - 1 || skTemplate.literals[i + 1] !== "";
        _range(m, f, v, prefix, suffix, (x) => m.keyValue(f, x), col, where, params);
        state = "range";
        const after = skTemplate.fields.slice(i + 1).find((g) => query[g] !== undefined);
        if (after !== undefined && !m.pk.fields.includes(after)) {
          throw new DbError(
            "validation",
            `A range on "${f}" must be the last sort key field in a query of "${m.name}" (found "${after}" after it)`,
            { model: m.name, field: f },
          );
        }
        break;
      }
      prefix += m.keyValue(f, v) + skTemplate.literals[i + 1]!;
    }
    if (state === "exact") {
      where.push(`${col} = ?`);
      params.push(prefix);
    } else if (state === "prefix" && prefix !== "") {
      where.push(`${col} >= ?`, `${col} < ?`);
      params.push(prefix, prefix + MAX);
    }
  }

  for (const k of Object.keys(query)) {
    if (used.has(k) || query[k] === undefined) continue;
    if (k in m.def.fields) {
      throw new DbError(
        "validation",
        `Field "${k}" is not part of the ${
          index ? `index "${index}"` : "key"
        } of "${m.name}": filter with where`,
        { model: m.name, field: k },
      );
    }
    throw new DbError("validation", `Unknown field "${k}" in a query of "${m.name}"`, {
      model: m.name,
      field: k,
    });
  }

  // Paging.
  const desc = options.reverse === true;
  const order = index === undefined ? ["i.pk", "i.sk"] : ["x.pk", "x.isk", "x.sk"];
  if (options.next !== undefined) {
    const last = _decodeNext(options.next, order.length, m.name);
    where.push(`(${order.join(", ")}) ${desc ? "<" : ">"} (${order.map(() => "?").join(", ")})`);
    params.push(...last);
  }
  where.push("(i.expires IS NULL OR i.expires > ?)");
  params.push(now);
  const dir = desc ? " DESC" : "";
  const from = index === undefined
    ? "_items i"
    : "_index x JOIN _items i ON i.model = x.model AND i.pk = x.pk AND i.sk = x.sk";
  const cols = index === undefined ? "i.pk, i.sk, i.data" : "x.pk, x.isk, x.sk, i.data";
  const sql = `SELECT ${cols} FROM ${from} WHERE ${where.join(" AND ")} ORDER BY ${
    order.map((o) => o + dir).join(", ")
  } LIMIT ?`;
  return { sql, params, index: index !== undefined };
}

/** The opaque cursor of a row. */
export function encodeNext(key: string[]): string {
  const bytes = utf8.encode(JSON.stringify(key));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function _decodeNext(next: string, parts: number, model: string): string[] {
  try {
    const bin = atob(next.replaceAll("-", "+").replaceAll("_", "/"));
    const key = JSON.parse(utf8Decoder.decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
    if (
      Array.isArray(key) && key.length === parts && key.every((k) => typeof k === "string")
    ) return key;
  } catch {
    // fall through
  }
  throw new DbError("validation", `Invalid next cursor for "${model}"`, { model });
}

function _isRange(v: unknown): v is Range {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date) &&
    Object.keys(v).length > 0 && Object.keys(v).every((k) => RANGE_KEYS.has(k));
}

function _range(
  m: Model,
  field: string,
  r: unknown,
  prefix: string,
  suffix: boolean,
  text: (v: unknown) => string,
  col: string,
  where: string[],
  params: (string | number)[],
): void {
  if (!_isRange(r)) {
    throw new DbError(
      "validation",
      `Invalid condition on "${field}" in a query of "${m.name}": expected a value or one of ${
        [...RANGE_KEYS].join(", ")
      }`,
      { model: m.name, field },
    );
  }
  const hi = suffix ? MAX : "";
  let lower = false, upper = false;
  const add = (op: string, v: string, isLower: boolean) => {
    where.push(`${col} ${op} ?`);
    params.push(v);
    if (isLower) lower = true;
    else upper = true;
  };
  if (r.beginsWith !== undefined) {
    const p = prefix + String(r.beginsWith);
    add(">=", p, true);
    add("<", p + MAX, false);
  }
  if (r.gte !== undefined) add(">=", prefix + text(r.gte), true);
  if (r.gt !== undefined) add(">", prefix + text(r.gt) + hi, true);
  if (r.lt !== undefined) add("<", prefix + text(r.lt), false);
  if (r.lte !== undefined) add("<=", prefix + text(r.lte) + hi, false);
  if (r.between !== undefined) {
    if (!Array.isArray(r.between) || r.between.length !== 2) {
      throw new DbError("validation", `"between" on "${field}" needs [low, high]`, {
        model: m.name,
        field,
      });
    }
    add(">=", prefix + text(r.between[0]), true);
    add("<=", prefix + text(r.between[1]) + hi, false);
  }
  if (!lower && prefix !== "") add(">=", prefix, true);
  if (!upper && prefix !== "") add("<", prefix + MAX, false);
}
