/**
 * The base of every validation schema, its modifiers (optional, nullable,
 * default, prefault, refine, superRefine, readonly) and the issue format.
 *
 * A schema validates an unknown value and returns a typed copy of it, or
 * every problem it found as `Issue`s with the path to each value. The API is
 * the subset of zod 4 that Tern uses (same names and semantics), kept our own
 * by measurement (docs/dependencies.md): loading zod or zod/mini costs the
 * agent over 6 MB of idle RSS and 49 ms of start, and valibot, used at the
 * config schema's scale, 23 to 46 ms of start: over the 2 MB / 20 ms a
 * library may cost.
 *
 * Schemas are immutable: every method returns a new schema.
 */

/** Where a value sits in the input: keys and array indexes. */
export type Path = PropertyKey[];

/** What kind of problem an issue is (zod's codes). */
export type IssueCode =
  | "invalid_type"
  | "invalid_value"
  | "invalid_format"
  | "invalid_key"
  | "invalid_union"
  | "too_small"
  | "too_big"
  | "unrecognized_keys"
  | "custom";

/** One problem with the input. */
export interface Issue {
  code: IssueCode;
  /** Path of the value the problem is about. */
  path: Path;
  /** A short human explanation, sentence case. */
  message: string;
  /** invalid_type: the type wanted ("string", "number", "integer", "object", …). */
  expected?: string;
  /** invalid_value: the values allowed. */
  values?: readonly unknown[];
  /** too_small: the bound. */
  minimum?: number;
  /** too_big: the bound. */
  maximum?: number;
  /** too_small / too_big: whether the bound itself is allowed. */
  inclusive?: boolean;
  /** too_small / too_big: what was measured. */
  origin?: "string" | "number" | "array";
  /** unrecognized_keys: the keys. */
  keys?: string[];
  /** invalid_key: what is wrong with the key itself. */
  issues?: Issue[];
}

/** Thrown by `parse()`: every issue found. */
export class SchemaError extends Error {
  override readonly name = "SchemaError";
  readonly code = "invalid";
  readonly issues: Issue[];
  constructor(issues: Issue[]) {
    super(
      issues.map((i) => (i.path.length ? `${i.path.join(".")}: ` : "") + i.message).join("; "),
    );
    this.issues = issues;
  }
}

/** The result of `safeParse()`. */
export type SafeResult<O> =
  | { success: true; data: O; error?: undefined }
  | { success: false; data?: undefined; error: SchemaError };

/** Returned by `run` when the value is invalid (its issues are in the list). */
export const FAIL: unique symbol = Symbol("invalid");
export type Fail = typeof FAIL;

/** What a `superRefine` callback gets to report problems. */
export interface RefineContext {
  /** Report a problem; `path` is relative to the refined value. */
  addIssue(issue: { code?: "custom"; message: string; path?: Path }): void;
}

interface Refinement {
  // deno-lint-ignore no-explicit-any
  (value: any, path: Path, issues: Issue[]): void;
  /** Also run on an invalid value (given the raw input then). */
  always?: boolean;
}

/** A value's type name as issues report it. */
export function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number" && Number.isNaN(v)) return "NaN";
  return typeof v;
}

/** An invalid_type issue. */
export function wrongType(expected: string, v: unknown, path: Path): Issue {
  return {
    code: "invalid_type",
    path,
    expected,
    message: `Expected ${expected}, received ${typeName(v)}`,
  };
}

/**
 * A validation schema producing `O` from input shaped like `I`. Subclasses
 * implement `check`; refinements run after it, on a valid value only.
 */
export abstract class Schema<O = unknown, I = O> {
  /** Type-level only: the output and input types. */
  declare readonly _output: O;
  declare readonly _input: I;
  protected refinements: Refinement[] = [];

  /** Validate `v` found at `path`: the output, or FAIL with issues pushed. */
  protected abstract check(v: unknown, path: Path, issues: Issue[]): O | Fail;

  /** Validate `v` at `path` (used by enclosing schemas). */
  run(v: unknown, path: Path, issues: Issue[]): O | Fail {
    const out = this.check(v, path, issues);
    if (this.refinements.length === 0) return out;
    const before = issues.length;
    for (const r of this.refinements) {
      if (out !== FAIL) r(out, path, issues);
      else if (r.always) r(v, path, issues);
    }
    return issues.length > before ? FAIL : out;
  }

  /** The validated value; throws `SchemaError` with every issue. */
  parse(v: unknown): O {
    const r = this.safeParse(v);
    if (!r.success) throw r.error;
    return r.data;
  }

  safeParse(v: unknown): SafeResult<O> {
    const issues: Issue[] = [];
    const out = this.run(v, [], issues);
    if (out === FAIL || issues.length) return { success: false, error: new SchemaError(issues) };
    return { success: true, data: out };
  }

  /** A copy of this schema (subclasses keep their own fields). */
  protected clone(): this {
    const c = Object.create(Object.getPrototypeOf(this)) as this;
    Object.assign(c, this);
    c.refinements = [...this.refinements];
    return c;
  }

  /** Add a check on the output; the message (or `{ message, path }`) is reported when `ok` is falsy. */
  refine(ok: (v: O) => unknown, opts?: string | { message?: string; path?: Path }): this {
    const o = typeof opts === "string" ? { message: opts } : opts ?? {};
    const c = this.clone();
    c.refinements.push((v, path, issues) => {
      if (!ok(v)) {
        issues.push({
          code: "custom",
          path: o.path ? [...path, ...o.path] : path,
          message: o.message ?? "Invalid value",
        });
      }
    });
    return c;
  }

  /**
   * Add a check that reports any number of issues through `ctx.addIssue`.
   * With `when`, it also runs when the value is invalid: on the raw input then
   * (so read it defensively), to report every problem in one pass.
   */
  superRefine(fn: (v: O, ctx: RefineContext) => void, opts?: { when?: () => boolean }): this {
    const c = this.clone();
    const r: Refinement = (v, path, issues) =>
      fn(v, {
        addIssue: (i) =>
          issues.push({
            code: "custom",
            path: i.path ? [...path, ...i.path] : path,
            message: i.message,
          }),
      });
    r.always = opts?.when?.() === true;
    c.refinements.push(r);
    return c;
  }

  /** `undefined` is allowed (and stays undefined). */
  optional(): Schema<O | undefined, I | undefined> {
    return new Wrapped<O | undefined, I | undefined>(this, (v) => v === undefined, () => undefined);
  }

  /** `null` is allowed. */
  nullable(): Schema<O | null, I | null> {
    return new Wrapped<O | null, I | null>(this, (v) => v === null, () => null);
  }

  /** When the input is `undefined`, the output is (a copy of) `value`, not validated. */
  default(value: Exclude<O, undefined>): Schema<Exclude<O, undefined>, I | undefined> {
    return new Wrapped<Exclude<O, undefined>, I | undefined>(
      this as Schema<unknown>,
      (v) => v === undefined,
      () => copy(value),
    );
  }

  /** When the input is `undefined`, `value` is validated instead (so its defaults apply). */
  prefault(value: I): Schema<Exclude<O, undefined>, I | undefined> {
    return new Prefault<Exclude<O, undefined>, I | undefined>(this as Schema<unknown>, value);
  }

  /** The output is frozen. */
  readonly(): Schema<Frozen<O>, Frozen<I>> {
    return new Wrapped<Frozen<O>, Frozen<I>>(this, () => false, () => undefined, Object.freeze);
  }
}

/** What `readonly()` outputs. */
export type Frozen<O> = O extends object ? Readonly<O> : O;

/** A deep copy of a default made of plain data, so no two outputs share it. */
function copy<T>(v: T): T {
  return typeof v === "object" && v !== null ? structuredClone(v) : v;
}

/** A schema around another: some inputs short-circuit, the rest go to `inner`. */
export class Wrapped<O, I> extends Schema<O, I> {
  constructor(
    readonly inner: Schema<unknown, unknown>,
    private readonly short: (v: unknown) => boolean,
    private readonly value: () => unknown,
    private readonly after?: (v: unknown) => unknown,
  ) {
    super();
  }
  protected check(v: unknown, path: Path, issues: Issue[]): O | Fail {
    if (this.short(v)) return this.value() as O;
    const out = this.inner.run(v, path, issues);
    return (out === FAIL || !this.after ? out : this.after(out)) as O | Fail;
  }
}

class Prefault<O, I> extends Schema<O, I> {
  constructor(readonly inner: Schema<unknown, unknown>, private readonly value: unknown) {
    super();
  }
  protected check(v: unknown, path: Path, issues: Issue[]): O | Fail {
    return this.inner.run(v === undefined ? copy(this.value) : v, path, issues) as O | Fail;
  }
}
