/**
 * The kinds of value a schema describes: strings, numbers, booleans, literals
 * and enums, arrays, objects, records and unions. Same names and semantics as
 * zod 4: numbers are finite, objects are plain (arrays are not objects), a
 * strict object reports unknown keys, a plain object drops them.
 */

import { setOwn as put } from "../own.ts";
import { FAIL, type Fail, type Issue, type Path, Schema, wrongType } from "./schema.ts";

/** The output type of a schema. */
export type Output<S> = S extends Schema<infer O, unknown> ? O : never;
/** The input type of a schema. */
export type Input<S> = S extends Schema<unknown, infer I> ? I : never;

// deno-lint-ignore no-explicit-any
type AnySchema = Schema<any, any>;
type Flat<T> = { [K in keyof T]: T[K] } & unknown;
type Shape = Record<string, AnySchema>;
type OptionalKeys<T, F extends "o" | "i"> = {
  [K in keyof T]: undefined extends (F extends "o" ? Output<T[K]> : Input<T[K]>) ? K : never;
}[keyof T];
type ObjectOf<T extends Shape, F extends "o" | "i"> = Flat<
  & { [K in Exclude<keyof T, OptionalKeys<T, F>>]: F extends "o" ? Output<T[K]> : Input<T[K]> }
  & { [K in OptionalKeys<T, F>]?: F extends "o" ? Output<T[K]> : Input<T[K]> }
>;

type Check<T> = (v: T, path: Path, issues: Issue[]) => T;

/** A schema whose checks run in order on a value of one primitive type. */
abstract class Checked<T> extends Schema<T> {
  protected checks: Check<T>[] = [];
  protected add(c: Check<T>): this {
    const s = this.clone();
    s.checks = [...this.checks, c];
    return s;
  }
  protected runChecks(v: T, path: Path, issues: Issue[]): T | Fail {
    const before = issues.length;
    for (const c of this.checks) v = c(v, path, issues);
    return issues.length > before ? FAIL : v;
  }
}

function bound(
  kind: "too_small" | "too_big",
  origin: "string" | "number" | "array",
  limit: number,
  inclusive: boolean,
  path: Path,
  message: string | undefined,
): Issue {
  const small = kind === "too_small";
  const what = origin === "string" ? " character(s)" : origin === "array" ? " item(s)" : "";
  const op = origin === "number"
    ? (small ? (inclusive ? "≥ " : "> ") : (inclusive ? "≤ " : "< "))
    : (small ? "at least " : "at most ");
  return {
    code: kind,
    path,
    origin,
    inclusive,
    ...(small ? { minimum: limit } : { maximum: limit }),
    message: message ?? `${small ? "Too small" : "Too big"}: expected ${op}${limit}${what}`,
  };
}

function format(path: Path, message: string): Issue {
  return { code: "invalid_format", path, message };
}

export class StringSchema extends Checked<string> {
  protected check(v: unknown, path: Path, issues: Issue[]): string | Fail {
    if (typeof v !== "string") return issues.push(wrongType("string", v, path)), FAIL;
    return this.checks.length ? this.runChecks(v, path, issues) : v;
  }
  min(n: number, message?: string): this {
    return this.add((v, p, is) => {
      if (v.length < n) is.push(bound("too_small", "string", n, true, p, message));
      return v;
    });
  }
  max(n: number, message?: string): this {
    return this.add((v, p, is) => {
      if (v.length > n) is.push(bound("too_big", "string", n, true, p, message));
      return v;
    });
  }
  regex(re: RegExp, message?: string): this {
    return this.add((v, p, is) => {
      re.lastIndex = 0;
      if (!re.test(v)) is.push(format(p, message ?? `a string matching ${re}`));
      return v;
    });
  }
  startsWith(prefix: string, message?: string): this {
    return this.add((v, p, is) => {
      if (!v.startsWith(prefix)) {
        is.push(format(p, message ?? `a string starting with "${prefix}"`));
      }
      return v;
    });
  }
  endsWith(suffix: string, message?: string): this {
    return this.add((v, p, is) => {
      if (!v.endsWith(suffix)) is.push(format(p, message ?? `a string ending with "${suffix}"`));
      return v;
    });
  }
  /** A parseable absolute URL. */
  url(message?: string): this {
    return this.add((v, p, is) => {
      if (!URL.canParse(v)) is.push(format(p, message ?? "a URL"));
      return v;
    });
  }
  trim(): this {
    return this.add((v) => v.trim());
  }
  toLowerCase(): this {
    return this.add((v) => v.toLowerCase());
  }
}

export class NumberSchema extends Checked<number> {
  protected check(v: unknown, path: Path, issues: Issue[]): number | Fail {
    if (typeof v !== "number" || !Number.isFinite(v)) {
      return issues.push(wrongType("number", v, path)), FAIL;
    }
    return this.checks.length ? this.runChecks(v, path, issues) : v;
  }
  int(): this {
    return this.add((v, p, is) => {
      if (!Number.isSafeInteger(v)) is.push(wrongType("integer", v, p));
      return v;
    });
  }
  min(n: number, message?: string): this {
    return this.add((v, p, is) => {
      if (v < n) is.push(bound("too_small", "number", n, true, p, message));
      return v;
    });
  }
  max(n: number, message?: string): this {
    return this.add((v, p, is) => {
      if (v > n) is.push(bound("too_big", "number", n, true, p, message));
      return v;
    });
  }
  nonnegative(message?: string): this {
    return this.min(0, message);
  }
  positive(message?: string): this {
    return this.add((v, p, is) => {
      if (v <= 0) is.push(bound("too_small", "number", 0, false, p, message));
      return v;
    });
  }
}

class Primitive<T> extends Schema<T> {
  constructor(private readonly type: string) {
    super();
  }
  protected check(v: unknown, path: Path, issues: Issue[]): T | Fail {
    const type: string = typeof v;
    return type === this.type ? v as T : (issues.push(wrongType(this.type, v, path)), FAIL);
  }
}

class Unknown extends Schema<unknown> {
  protected check(v: unknown): unknown {
    return v;
  }
}

/** One of a fixed list of values (enum, literal). */
export class ValueSchema<T> extends Schema<T> {
  constructor(readonly values: readonly T[]) {
    super();
  }
  protected check(v: unknown, path: Path, issues: Issue[]): T | Fail {
    if (this.values.includes(v as T)) return v as T;
    const list = this.values.map((x) => JSON.stringify(x)).join(", ");
    issues.push({
      code: "invalid_value",
      path,
      values: this.values,
      message: `Expected ${this.values.length > 1 ? "one of " : ""}${list}`,
    });
    return FAIL;
  }
}

export class ArraySchema<O, I> extends Schema<O[], I[]> {
  constructor(readonly element: Schema<O, I>) {
    super();
  }
  private bounds: [min: number, max: number, message: string | undefined][] = [];
  protected check(v: unknown, path: Path, issues: Issue[]): O[] | Fail {
    if (!Array.isArray(v)) return issues.push(wrongType("array", v, path)), FAIL;
    const before = issues.length;
    const out = v.map((x, i) => this.element.run(x, [...path, i], issues));
    for (const [min, max, message] of this.bounds) {
      if (v.length < min) issues.push(bound("too_small", "array", min, true, path, message));
      if (v.length > max) issues.push(bound("too_big", "array", max, true, path, message));
    }
    return issues.length > before ? FAIL : out as O[];
  }
  min(n: number, message?: string): this {
    const c = this.clone();
    c.bounds = [...this.bounds, [n, Infinity, message]];
    return c;
  }
  max(n: number, message?: string): this {
    const c = this.clone();
    c.bounds = [...this.bounds, [0, n, message]];
    return c;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

export class ObjectSchema<T extends Shape> extends Schema<ObjectOf<T, "o">, ObjectOf<T, "i">> {
  constructor(readonly shape: T, readonly strict: boolean) {
    super();
  }
  protected check(v: unknown, path: Path, issues: Issue[]): ObjectOf<T, "o"> | Fail {
    if (!isPlainObject(v)) return issues.push(wrongType("object", v, path)), FAIL;
    const before = issues.length;
    const out: Record<string, unknown> = {};
    for (const k in this.shape) {
      const r = this.shape[k]!.run(v[k], [...path, k], issues);
      if (r !== undefined && r !== FAIL) put(out, k, r);
      else if (r === undefined && Object.hasOwn(v, k)) put(out, k, undefined);
    }
    if (this.strict) {
      const extra = Object.keys(v).filter((k) => !Object.hasOwn(this.shape, k));
      if (extra.length) {
        issues.push({
          code: "unrecognized_keys",
          path,
          keys: extra,
          message: `Unrecognized key(s): ${extra.map((k) => `"${k}"`).join(", ")}`,
        });
      }
    }
    return issues.length > before ? FAIL : out as ObjectOf<T, "o">;
  }
}

export class RecordSchema<V extends AnySchema>
  extends Schema<Record<string, Output<V>>, Record<string, Input<V>>> {
  constructor(readonly key: Schema<string, unknown>, readonly value: V) {
    super();
  }
  protected check(v: unknown, path: Path, issues: Issue[]): Record<string, Output<V>> | Fail {
    if (!isPlainObject(v)) return issues.push(wrongType("object", v, path)), FAIL;
    const before = issues.length;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) {
      const at = [...path, k];
      const keyIssues: Issue[] = [];
      if (this.key.run(k, at, keyIssues) === FAIL) {
        issues.push({
          code: "invalid_key",
          path: at,
          issues: keyIssues,
          message: `Invalid key "${k}": ${keyIssues.map((i) => i.message).join("; ")}`,
        });
        continue;
      }
      const r = this.value.run(v[k], at, issues);
      if (r !== FAIL) put(out, k, r);
    }
    return issues.length > before ? FAIL : out as Record<string, Output<V>>;
  }
}

export class UnionSchema<T extends readonly AnySchema[]>
  extends Schema<Output<T[number]>, Input<T[number]>> {
  constructor(readonly options: T) {
    super();
  }
  protected check(v: unknown, path: Path, issues: Issue[]): Output<T[number]> | Fail {
    const failures: Issue[][] = [];
    for (const o of this.options) {
      const mine: Issue[] = [];
      const r = o.run(v, path, mine);
      if (r !== FAIL && mine.length === 0) return r;
      failures.push(mine);
    }
    const atTop = (is: Issue[]) => is.length === 1 && is[0]!.path.length === path.length;
    if (failures.every((is) => atTop(is) && is[0]!.code === "invalid_type")) {
      const types = failures.map((is) => is[0]!.expected!);
      const expected = types.length > 1
        ? `${types.slice(0, -1).join(", ")} or ${types.at(-1)}`
        : types[0]!;
      issues.push(wrongType(expected, v, path));
      return FAIL;
    }
    // The options that got past the type: their problems are the useful ones.
    const near = failures.filter((is) => !(atTop(is) && is[0]!.code === "invalid_type"));
    if (near.length === 1) issues.push(...near[0]!);
    else if (near.every((is) => atTop(is) && is[0]!.code === "invalid_value")) {
      const values = near.flatMap((is) => is[0]!.values ?? []);
      issues.push({
        code: "invalid_value",
        path,
        values,
        message: `Expected one of ${values.map((x) => JSON.stringify(x)).join(", ")}`,
      });
    } else {
      // What each option wanted, as one phrase: 'one of "env", "none", or a proxy URL'.
      const wanted = (i: Issue) =>
        i.code === "invalid_value" && i.values
          ? `${i.values.length > 1 ? "one of " : ""}${
            i.values.map((x) => JSON.stringify(x)).join(", ")
          }`
          : i.message;
      issues.push({
        code: "invalid_union",
        path,
        message: near.map((is) => is.map(wanted).join(" and ")).join(", or "),
      });
    }
    return FAIL;
  }
}

export function string(): StringSchema {
  return new StringSchema();
}
export function number(): NumberSchema {
  return new NumberSchema();
}
export function boolean(): Schema<boolean> {
  return new Primitive<boolean>("boolean");
}
export function unknown(): Schema<unknown> {
  return new Unknown();
}
/** A string that parses as an absolute URL. */
export function url(message?: string): StringSchema {
  return new StringSchema().url(message);
}
export function literal<const T extends string | number | boolean>(value: T): ValueSchema<T> {
  return new ValueSchema([value]);
}
function enumOf<const T extends readonly string[]>(values: T): ValueSchema<T[number]> {
  return new ValueSchema<T[number]>(values);
}
export { enumOf as enum };
export function array<S extends AnySchema>(element: S): ArraySchema<Output<S>, Input<S>> {
  return new ArraySchema(element);
}
/** An object with these keys; other keys are dropped. */
export function object<T extends Shape>(shape: T): ObjectSchema<T> {
  return new ObjectSchema(shape, false);
}
/** An object with these keys; any other key is an issue. */
export function strictObject<T extends Shape>(shape: T): ObjectSchema<T> {
  return new ObjectSchema(shape, true);
}
export function record<V extends AnySchema>(
  key: Schema<string, unknown>,
  value: V,
): RecordSchema<V> {
  return new RecordSchema(key, value);
}
export function union<const T extends readonly AnySchema[]>(options: T): UnionSchema<T> {
  return new UnionSchema(options);
}
