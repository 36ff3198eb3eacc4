/**
 * Typed validation schemas: the subset of zod 4's API that Tern uses, with the
 * same names and semantics, and no npm package behind it. Import it as a
 * namespace:
 *
 * ```ts
 * import * as z from "../validate/mod.ts";
 * const body = z.strictObject({ on: z.boolean(), level: z.number().int().min(0).max(100) });
 * type Body = z.infer<typeof body>;      // { on: boolean; level: number }
 * body.parse(input);                     // throws SchemaError listing every problem with its path
 * ```
 */

import type { Input, Output } from "./kinds.ts";

export {
  array,
  ArraySchema,
  boolean,
  enum,
  literal,
  number,
  NumberSchema,
  object,
  ObjectSchema,
  record,
  strictObject,
  string,
  StringSchema,
  union,
  unknown,
  url,
  ValueSchema,
} from "./kinds.ts";
export {
  type Issue,
  type IssueCode,
  type Path,
  type RefineContext,
  type SafeResult,
  Schema,
  SchemaError,
} from "./schema.ts";
export { keysAt } from "./keys.ts";

/** The output type of a schema (what `parse` returns). */
export type infer<S> = Output<S>;
/** The output type of a schema. */
export type output<S> = Output<S>;
/** The input type of a schema (defaults make keys optional). */
export type input<S> = Input<S>;
