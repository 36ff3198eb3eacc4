/**
 * A compiled model: its definition (validated by `modelSchema`), key
 * templates, and the validation of items and patches on write. Every
 * problem becomes a `DbError` naming the model and field:
 * `Unknown field "valeu" in "Reading" (did you mean "value"?)`.
 *
 * Write rules: unknown properties are rejected, `null` means absent, missing
 * fields get their `default` or `generate` value on create, dates are stored
 * as ISO 8601 UTC ("2024-05-01T12:00:00.000Z").
 */

import {
  checkValue,
  describeValue,
  type FieldDef,
  type ModelDef,
  type ModelInput,
  modelSchema,
} from "../config/mod.ts";
import { suggest } from "../config/_suggest.ts";
import { DbError } from "./errors.ts";
import { keyText, Template } from "./template.ts";
import type { Key, RawKey } from "./types.ts";

/** Metadata attributes the database sets on every item. */
export const META = ["created", "updated", "_version"] as const;

/** DynamoDB limits: each key part ≤ 1 KB, item ≤ 400 KB (UTF-8 bytes). */
export const MAX_KEY_BYTES = 1024;
export const MAX_ITEM_BYTES = 400 * 1024;

type Fields = Record<string, unknown>;

const CANONICAL_DATE =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;

export class Model {
  readonly name: string;
  readonly def: ModelDef;
  readonly pk: Template;
  readonly sk: Template | undefined;
  readonly indexes: Map<string, Template>;
  readonly fieldNames: string[];
  /** Fields never returned by the REST API. */
  readonly hidden: string[];
  /** The field whose value is the expiry time, if any. */
  readonly ttlField: string | undefined;
  #fields: [string, FieldDef][];
  #keyFields: Set<string>;
  #keyList: string[];

  constructor(name: string, def: ModelDef) {
    this.name = name;
    this.def = def;
    this.pk = new Template(def.pk);
    this.sk = def.sk === undefined ? undefined : new Template(def.sk);
    this.indexes = new Map(Object.entries(def.indexes).map(([n, i]) => [n, new Template(i.sk)]));
    this.#fields = Object.entries(def.fields);
    this.fieldNames = this.#fields.map(([n]) => n);
    this.hidden = this.#fields.filter(([, f]) => f.hidden).map(([n]) => n);
    this.ttlField = this.#fields.find(([, f]) => f.ttl)?.[0];
    this.#keyFields = new Set([...this.pk.fields, ...(this.sk?.fields ?? [])]);
    this.#keyList = [...this.#keyFields];
  }

  /** Validate a model definition; throws a `schema` DbError listing every problem. */
  static parse(name: string, input: ModelInput | unknown): ModelDef {
    const r = modelSchema.safeParse(input);
    if (r.success) return r.data;
    const problems = r.error.issues.map((i) => {
      const path = i.path.map(String).join(".");
      return `${path || "(model)"}: ${i.message}`;
    });
    const first = r.error.issues[0]?.path.find((_p, n, all) => all[n - 1] === "fields");
    throw new DbError(
      "schema",
      `Invalid model "${name}": ${problems.join("; ")}`,
      first === undefined ? { model: name } : { model: name, field: String(first) },
    );
  }

  field(name: string): FieldDef | undefined {
    return this.def.fields[name];
  }

  /**
   * Validate a whole item for create/put and return its normalized fields.
   * `generate`: fill generated fields; `meta`: allow created/updated/_version
   * (they are returned separately, not in the fields).
   */
  prepare(input: unknown, newId: (kind: "ulid" | "uuid") => string, meta = false): Fields {
    if (typeof input !== "object" || input === null || Array.isArray(input)) {
      throw this.#error(
        undefined,
        `An item of "${this.name}" must be an object, found ${describeValue(input)}`,
      );
    }
    const src = input as Fields;
    for (const k in src) {
      if (!(k in this.def.fields) && !(meta && (META as readonly string[]).includes(k))) {
        this.#unknown(k);
      }
    }
    const out: Fields = {};
    for (const [name, f] of this.#fields) {
      let v = src[name];
      if (v === undefined || v === null) {
        if (f.default !== undefined) {
          v = typeof f.default === "object" ? structuredClone(f.default) : f.default;
        } else if (f.generate) v = newId(f.generate);
        else if (f.required) {
          throw this.#error(name, `Missing required field "${name}" in "${this.name}"`);
        } else continue;
      }
      out[name] = this.#check(name, f, v);
    }
    return out;
  }

  /**
   * Apply a patch to stored fields: `null` removes a field, unknown fields
   * are rejected, key fields may not change. Returns the new normalized fields.
   */
  patch(stored: Fields, patch: unknown, newId: (kind: "ulid" | "uuid") => string): Fields {
    if (typeof patch !== "object" || patch === null || Array.isArray(patch)) {
      throw this.#error(
        undefined,
        `A patch of "${this.name}" must be an object, found ${describeValue(patch)}`,
      );
    }
    const merged: Fields = { ...stored };
    for (const [k, v] of Object.entries(patch as Fields)) {
      if (!(k in this.def.fields)) this.#unknown(k);
      if (v === undefined) continue;
      if (v === null) delete merged[k];
      else merged[k] = v;
    }
    const out = this.prepare(merged, newId);
    for (const k of this.#keyFields) {
      if (keyText(out[k]) !== keyText(stored[k])) {
        throw this.#error(k, `Field "${k}" is part of the key of "${this.name}" and cannot change`);
      }
    }
    return out;
  }

  /** The raw key of normalized fields; checks the DynamoDB key size. */
  keyOf(fields: Fields): RawKey {
    const key = { pk: this.pk.render(fields), sk: this.sk ? this.sk.render(fields) : "" };
    this.#checkKeySize(key);
    return key;
  }

  /** The raw key a caller's `Key` designates: key-template fields, or `{ pk, sk }`. */
  resolveKey(key: Key): RawKey {
    if (typeof key !== "object" || key === null || Array.isArray(key)) {
      throw this.#error(
        undefined,
        `A key of "${this.name}" must be an object, found ${describeValue(key)}`,
      );
    }
    if (typeof key.pk === "string") {
      for (const k of Object.keys(key)) {
        if (k !== "pk" && k !== "sk") {
          this.#keyError(`Raw key of "${this.name}" has "${k}" (only pk and sk)`, k);
        }
      }
      if (key.sk !== undefined && typeof key.sk !== "string") {
        this.#keyError(`Raw key sk must be a string`, "sk");
      }
      const raw = { pk: key.pk, sk: (key.sk as string | undefined) ?? "" };
      this.#checkKeySize(raw);
      return raw;
    }
    const values: Fields = {};
    for (const k in key) {
      if (!this.#keyFields.has(k)) {
        if (k in this.def.fields) {
          this.#keyError(
            `Field "${k}" is not part of the key of "${this.name}" (key fields: ${
              [...this.#keyFields].join(", ")
            })`,
            k,
          );
        }
        this.#unknown(k);
      }
    }
    for (const k of this.#keyList) {
      const v = key[k];
      if (v === undefined || v === null) {
        this.#keyError(
          `Missing key field "${k}" for "${this.name}" (key fields: ${
            [...this.#keyFields].join(", ")
          })`,
          k,
        );
      }
      values[k] = this.#check(k, this.def.fields[k]!, v);
    }
    return this.keyOf(values);
  }

  /** Normalize one value of a field for a key or query (dates to ISO UTC). */
  keyValue(name: string, v: unknown): string {
    const f = this.def.fields[name];
    if (!f) return keyText(v);
    return keyText(this.#check(name, f, v));
  }

  /** Expiry time in ms since the epoch, or null. */
  expiresAt(fields: Fields): number | null {
    if (!this.ttlField) return null;
    const v = fields[this.ttlField];
    if (v === undefined) return null;
    return typeof v === "number" ? v * 1000 : Date.parse(v as string);
  }

  /** Index sort keys of normalized fields, per index name. */
  indexKeys(fields: Fields): [string, string][] {
    const out: [string, string][] = [];
    for (const [name, t] of this.indexes) {
      // Sparse, as in DynamoDB: an item lacking a field of the index key is not in the index.
      if (t.fields.some((f) => fields[f] === undefined)) continue;
      const isk = t.render(fields);
      this.#checkBytes(isk, `Index "${name}" sort key`);
      out.push([name, isk]);
    }
    return out;
  }

  /** The item without hidden fields (what the REST API returns). */
  publicView<T extends Fields>(item: T): T {
    if (this.hidden.length === 0) return item;
    const out = { ...item };
    for (const h of this.hidden) delete out[h];
    return out;
  }

  #check(name: string, f: FieldDef, v: unknown): unknown {
    // Fast path: a date already in canonical form (what the database itself returns).
    if (f.type === "date" && typeof v === "string" && CANONICAL_DATE.test(v)) {
      // Days 29-31 may not exist in that month: let Date decide only then.
      if (v.charCodeAt(8) < 50 || (v[8] === "2" && v[9] !== "9")) return v;
      if (new Date(v).toISOString() === v) return v;
    }
    const problem = checkValue(f, v);
    if (problem) {
      throw this.#error(
        name,
        `Invalid value for field "${name}" of "${this.name}": expected ${problem}, found ${
          describeValue(v)
        }`,
      );
    }
    if (f.type === "date") {
      return v instanceof Date ? v.toISOString() : new Date(v as string).toISOString();
    }
    return v;
  }

  #checkKeySize(key: RawKey): void {
    this.#checkBytes(key.pk, "Partition key");
    this.#checkBytes(key.sk, "Sort key");
  }

  #checkBytes(text: string, what: string): void {
    // Fast path: a string of n UTF-16 units is at most 3n UTF-8 bytes.
    if (text.length * 3 <= MAX_KEY_BYTES) return;
    const bytes = new TextEncoder().encode(text).length;
    if (bytes > MAX_KEY_BYTES) {
      throw new DbError(
        "too_large",
        `${what} of "${this.name}" is ${bytes} bytes (DynamoDB allows ${MAX_KEY_BYTES})`,
        { model: this.name },
      );
    }
  }

  #unknown(k: string): never {
    if ((META as readonly string[]).includes(k) || k === "pk" || k === "sk") {
      throw this.#error(k, `Field "${k}" of "${this.name}" is set by the database`);
    }
    const hit = suggest(k, this.fieldNames);
    throw this.#error(
      k,
      `Unknown field "${k}" in "${this.name}"${
        hit ? ` (did you mean "${hit}"?)` : ` (fields: ${this.fieldNames.join(", ")})`
      }`,
    );
  }

  #keyError(message: string, field: string): never {
    throw this.#error(field, message);
  }

  #error(field: string | undefined, message: string): DbError {
    return new DbError(
      "validation",
      message,
      field === undefined ? { model: this.name } : { model: this.name, field },
    );
  }
}
