/**
 * The keys an object schema accepts at a path inside a bigger schema, through
 * optional/default wrappers, arrays and records: what "did you mean" hints are
 * chosen from.
 */

import { ArraySchema, ObjectSchema, RecordSchema, UnionSchema } from "./kinds.ts";
import { Schema } from "./schema.ts";

function unwrap(s: unknown): unknown {
  for (let i = 0; i < 16; i++) {
    const inner = (s as { inner?: unknown }).inner;
    if (!(inner instanceof Schema)) return s;
    s = inner;
  }
  return s;
}

/** Keys of the object schema at `path` (numbers step into arrays); [] when there is none. */
export function keysAt(schema: Schema<unknown, unknown>, path: readonly PropertyKey[]): string[] {
  let node = unwrap(schema);
  for (const k of path) {
    if (node instanceof ObjectSchema) node = node.shape[k as string];
    else if (node instanceof ArraySchema) node = node.element;
    else if (node instanceof RecordSchema) node = node.value;
    else return [];
    node = unwrap(node);
  }
  if (node instanceof UnionSchema) {
    const options = (node.options as readonly unknown[]).map(unwrap);
    return options.flatMap((o) => o instanceof ObjectSchema ? Object.keys(o.shape) : []);
  }
  return node instanceof ObjectSchema ? Object.keys(node.shape) : [];
}
