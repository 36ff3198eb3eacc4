/**
 * JSON values ↔ DynamoDB attribute values, one to one: strings → S, numbers
 * → N (decimal text), booleans → BOOL, null → NULL, objects → M, arrays → L.
 * Dates are ISO 8601 strings in Tern items, so they are S. Sets (SS, NS, BS)
 * and binary (B) written by a cloud application are read as arrays and
 * base64 strings.
 */

import type { AttributeMap, AttributeValue } from "./dynamodb.ts";

export type { AttributeMap };

/** One JSON value as an attribute value (undefined values are dropped by `toAttributes`). */
export function toAttribute(v: unknown): AttributeValue {
  if (v === null || v === undefined) return { NULL: true };
  switch (typeof v) {
    case "string":
      return { S: v };
    case "number":
      if (!Number.isFinite(v)) throw new RangeError(`Cannot store ${v} in DynamoDB`);
      return { N: String(v) };
    case "boolean":
      return { BOOL: v };
    case "object":
      if (Array.isArray(v)) return { L: v.map(toAttribute) };
      if (v instanceof Date) return { S: v.toISOString() };
      return { M: toAttributes(v as Record<string, unknown>) };
  }
  throw new TypeError(`Cannot store a ${typeof v} in DynamoDB`);
}

/** A JSON object as an attribute map. */
export function toAttributes(obj: Record<string, unknown>): AttributeMap {
  const out: AttributeMap = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v !== undefined) out[k] = toAttribute(v);
  }
  return out;
}

/** One attribute value as JSON. */
export function fromAttribute(a: AttributeValue): unknown {
  if (a.S !== undefined) return a.S;
  if (a.N !== undefined) return Number(a.N);
  if (a.BOOL !== undefined) return a.BOOL;
  if (a.NULL !== undefined) return null;
  if (a.M !== undefined) return fromAttributes(a.M);
  if (a.L !== undefined) return a.L.map(fromAttribute);
  if (a.SS !== undefined) return [...a.SS];
  if (a.NS !== undefined) return a.NS.map(Number);
  if (a.B !== undefined) return a.B;
  if (a.BS !== undefined) return [...a.BS];
  return null;
}

/** An attribute map as a JSON object. */
export function fromAttributes(map: AttributeMap): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(map)) out[k] = fromAttribute(v);
  return out;
}
