/**
 * The `database` section (tern.json5) and the `schema` section (schema.json5):
 * where the embedded database lives and the models it holds. The model
 * definitions are validated here in depth, so `tern check-config` reports a
 * bad model together with every other config problem (file, model, field,
 * what is wrong). `lib/db` validates programmatic (system) models with the
 * same `modelSchema`.
 *
 * ```json5
 * database: { path: "tern.db", synchronous: "NORMAL", purgeInterval: 60000 },
 * // schema.json5
 * { models: { Reading: {
 *     pk: "Sensor#${deviceId}", sk: "Reading#${time}",
 *     fields: { deviceId: { type: "string", required: true },
 *               time: { type: "date", required: true },
 *               value: { type: "number", min: -50, max: 150 } },
 *     indexes: { byValue: { sk: "${value}" } },
 *     sync: "up", table: "tern-readings", retention: { maxItems: 100000, maxAge: 2592000000 } } } }
 * ```
 */

import * as z from "../validate/mod.ts";
import { dirname, resolve } from "../path.ts";
import type { PathBase, PermissionNeeds } from "./_types.ts";
import { ms } from "./_types.ts";
import { suggest } from "./_suggest.ts";

export const databaseSection = z.strictObject({
  enabled: z.boolean().default(true),
  /** SQLite file; relative to the state directory. */
  path: z.string().min(1).default("tern.db"),
  /** "NORMAL" (WAL: survives a process crash, may lose the last commits on power loss) or "FULL" (fsync every commit). */
  synchronous: z.enum(["NORMAL", "FULL"]).default("NORMAL"),
  /** How often expired (TTL) items and items past retention are purged, in ms. */
  purgeInterval: ms().min(1000).default(60_000),
  /** Change rows kept when no consumer cursor is registered. */
  changeLogLimit: z.number().int().min(0).default(100_000),
}).prefault({});

export type DatabaseConfig = z.infer<typeof databaseSection>;

/** Field types of a model. */
export const FIELD_TYPES = ["string", "number", "boolean", "date", "object", "array"] as const;
/** Names no field may have: they are the key and metadata attributes of every item. */
export const RESERVED_FIELDS = ["pk", "sk", "created", "updated", "_version"] as const;

const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const MODEL_NAME = /^_?[A-Za-z][A-Za-z0-9_]{0,63}$/;
const PLACEHOLDER = /\$\{([^}]*)\}/g;

/** Placeholders of a key template, in order: "A#${x}#${y}" → ["x", "y"]. */
export function templateFields(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!);
}

const scalar = z.union([z.string(), z.number(), z.boolean()]);

export const fieldSchema = z.strictObject({
  type: z.enum(FIELD_TYPES),
  required: z.boolean().optional(),
  default: z.unknown().optional(),
  enum: z.array(scalar).min(1).readonly().optional(),
  /** Numbers: smallest value; strings and arrays: shortest length. */
  min: z.number().optional(),
  /** Numbers: largest value; strings and arrays: longest length. */
  max: z.number().optional(),
  /** Strings: a regular expression the whole value must match. */
  pattern: z.string().optional(),
  /** Filled on create when missing. */
  generate: z.enum(["ulid", "uuid"]).optional(),
  /** Never returned by the REST API. */
  hidden: z.boolean().optional(),
  /** The item expires at this time (date, or number of seconds since the epoch as in DynamoDB). */
  ttl: z.boolean().optional(),
  description: z.string().optional(),
}).superRefine((f, ctx) => {
  const bad = (path: string, message: string) =>
    ctx.addIssue({ code: "custom", path: [path], message });
  if (f.enum && f.type !== "string" && f.type !== "number") {
    bad("enum", `no "enum" on a ${f.type} field (only string and number)`);
  }
  if (f.enum) {
    const want: string = f.type;
    const wrong = f.enum.find((v) =>
      (typeof v === "number" ? "number" : "string") !== want || typeof v === "boolean"
    );
    if (wrong !== undefined && (f.type === "string" || f.type === "number")) {
      bad("enum", `values of type ${f.type} (found ${JSON.stringify(wrong)})`);
    }
  }
  if (f.pattern !== undefined) {
    if (f.type !== "string") bad("pattern", `no "pattern" on a ${f.type} field (only string)`);
    try {
      new RegExp(f.pattern);
    } catch (e) {
      bad("pattern", `a valid regular expression (${(e as Error).message})`);
    }
  }
  if (
    (f.min !== undefined || f.max !== undefined) && !["string", "number", "array"].includes(f.type)
  ) {
    bad(
      f.min !== undefined ? "min" : "max",
      `no "min"/"max" on a ${f.type} field (only number, string, array)`,
    );
  }
  if (f.min !== undefined && f.max !== undefined && f.min > f.max) {
    bad("max", `a number ≥ min (${f.min})`);
  }
  if (f.generate && f.type !== "string") {
    bad("generate", `no "generate" on a ${f.type} field (only string)`);
  }
  if (f.ttl && f.type !== "date" && f.type !== "number") {
    bad("ttl", `no "ttl" on a ${f.type} field (only date, or number of seconds since the epoch)`);
  }
  if (f.default !== undefined) {
    const problem = checkValue(f as FieldDef, f.default);
    if (problem) bad("default", problem);
    if (f.generate) bad("default", `either "default" or "generate", not both`);
  }
});

/** One field of a model. */
export type FieldDef = z.infer<typeof fieldSchema>;

const retentionSchema = z.strictObject({
  /** Keep at most this many items (oldest by creation are purged). */
  maxItems: z.number().int().min(1).optional(),
  /** Purge items created longer ago than this, in ms. */
  maxAge: ms().min(1000).optional(),
});

const indexSchema = z.strictObject({
  /** Sort key template of the index (same partition key as the model). */
  sk: z.string().min(1),
});

export const modelSchema = z.strictObject({
  description: z.string().optional(),
  /** Partition key template, e.g. "Sensor#${deviceId}". */
  pk: z.string().min(1),
  /** Sort key template, e.g. "Reading#${time}". */
  sk: z.string().min(1).optional(),
  fields: z.record(z.string(), fieldSchema),
  /** Local secondary indexes: an alternative sort key within the same partition. */
  indexes: z.record(z.string(), indexSchema).default({}),
  /** Replication with DynamoDB (see the sync docs). */
  sync: z.enum(["none", "up", "down", "both"]).default("none"),
  /** DynamoDB table the model maps to. */
  table: z.string().regex(
    /^[A-Za-z0-9_.-]{3,255}$/,
    "a DynamoDB table name (3 to 255 of A-Z a-z 0-9 _ . -)",
  )
    .optional(),
  retention: retentionSchema.optional(),
  /** Data API writes (create, update, delete) become audit events (lib/cloud/audit, docs/audit.md). */
  audit: z.boolean().optional(),
}).superRefine((input, ctx) => {
  // Runs even when parts of the model are invalid (`when`), so read defensively.
  const m = input as Partial<ModelShape>;
  const bad = (path: PropertyKey[], message: string) =>
    ctx.addIssue({ code: "custom", path, message });
  const fields = (_isObject(m.fields) ? m.fields : {}) as Record<string, Partial<FieldDef>>;
  const names = Object.keys(fields);
  for (const name of names) {
    if ((RESERVED_FIELDS as readonly string[]).includes(name)) {
      bad(["fields", name], `a field name other than ${RESERVED_FIELDS.join(", ")} (reserved)`);
    } else if (!FIELD_NAME.test(name)) {
      bad(
        ["fields", name],
        "a field name of letters, digits and _ starting with a letter (1 to 64)",
      );
    }
  }
  const ttl = names.filter((n) => fields[n]?.ttl === true);
  if (ttl.length > 1) bad(["fields", ttl[1]!, "ttl"], `one ttl field per model (also "${ttl[0]}")`);
  const checkTemplate = (path: PropertyKey[], template: unknown, keyFields = true) => {
    if (typeof template !== "string") return;
    const used = templateFields(template);
    for (const f of used) {
      const def = fields[f];
      if (!_isObject(def)) {
        const hit = suggest(f, names);
        bad(
          path,
          `a template over the fields of the model (unknown field "${f}"${
            hit ? `, did you mean "${hit}"?` : ""
          })`,
        );
      } else if (def.type === "object" || def.type === "array") {
        bad(
          path,
          `a template over string, number, boolean or date fields ("${f}" is an ${def.type})`,
        );
      } else if (keyFields && !def.required && !def.generate && def.default === undefined) {
        bad(["fields", f, "required"], `true, or a default or generate: "${f}" is used in a key`);
      }
    }
  };
  checkTemplate(["pk"], m.pk);
  checkTemplate(["sk"], m.sk);
  for (const [name, idx] of Object.entries(_isObject(m.indexes) ? m.indexes : {})) {
    if (!FIELD_NAME.test(name)) {
      bad(["indexes", name], "an index name of letters, digits and _ (1 to 64)");
    }
    if (_isObject(idx)) checkTemplate(["indexes", name, "sk"], idx.sk, false);
  }
  const r = m.retention;
  if (_isObject(r) && r.maxItems === undefined && r.maxAge === undefined) {
    bad(["retention"], "maxItems and/or maxAge");
  }
}, { when: () => true });

interface ModelShape {
  pk: string;
  sk: string;
  fields: Record<string, FieldDef>;
  indexes: Record<string, { sk: string }>;
  retention: { maxItems?: number; maxAge?: number };
}

function _isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A model definition as written in schema.json5 (or passed to `db.define`). */
export type ModelInput = z.input<typeof modelSchema>;
/** A validated model definition with defaults filled in. */
export type ModelDef = z.infer<typeof modelSchema>;

/** The models (schema.json5). */
export const schemaSection = z.strictObject({
  models: z.record(z.string(), modelSchema).default({}).superRefine((models, ctx) => {
    for (const name of Object.keys(models)) {
      if (name.startsWith("_")) {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: `a model name not starting with "_" (reserved for system models)`,
        });
      } else if (!MODEL_NAME.test(name)) {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: "a model name of letters, digits and _ starting with a letter (1 to 64)",
        });
      }
    }
  }, { when: () => true }),
}).prefault({});

export type SchemaConfig = z.infer<typeof schemaSection>;

/** Whether `name` is a valid model name; system models start with "_". */
export function isModelName(name: string, system = false): boolean {
  return MODEL_NAME.test(name) && name.startsWith("_") === system;
}

/**
 * What `field` expects when `value` does not fit it ("a number ≤ 150"), or
 * undefined when it does. Dates are ISO
 * 8601 strings (or Date objects); a number ttl field holds epoch seconds.
 */
export function checkValue(field: FieldDef, value: unknown): string | undefined {
  const t = field.type;
  switch (t) {
    case "string":
      if (typeof value !== "string") return `a string`;
      if (field.min !== undefined && value.length < field.min) {
        return `at least ${field.min} character(s)`;
      }
      if (field.max !== undefined && value.length > field.max) {
        return `at most ${field.max} character(s)`;
      }
      if (field.pattern !== undefined && !_regex(field.pattern).test(value)) {
        return `a string matching /${field.pattern}/`;
      }
      break;
    case "number":
      if (typeof value !== "number" || !Number.isFinite(value)) {
        return `a number`;
      }
      if (field.min !== undefined && value < field.min) {
        return `a number ≥ ${field.min}`;
      }
      if (field.max !== undefined && value > field.max) {
        return `a number ≤ ${field.max}`;
      }
      break;
    case "boolean":
      if (typeof value !== "boolean") return `a boolean`;
      break;
    case "date":
      if (
        value instanceof Date
          ? isNaN(value.getTime())
          : typeof value !== "string" || !ISO_DATE.test(value) || isNaN(Date.parse(value))
      ) {
        return `an ISO 8601 date like "2024-05-01T12:00:00Z"`;
      }
      break;
    case "object":
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        return `an object`;
      }
      break;
    case "array":
      if (!Array.isArray(value)) return `an array`;
      if (field.min !== undefined && value.length < field.min) {
        return `at least ${field.min} item(s)`;
      }
      if (field.max !== undefined && value.length > field.max) {
        return `at most ${field.max} item(s)`;
      }
      break;
  }
  if (field.enum && !field.enum.includes(value as string | number)) {
    return `one of ${field.enum.map((v) => JSON.stringify(v)).join(", ")}`;
  }
  return undefined;
}

const _regexes = new Map<string, RegExp>();

/** The compiled whole-value regex of a pattern (cached: patterns are few). */
function _regex(pattern: string): RegExp {
  let re = _regexes.get(pattern);
  if (!re) _regexes.set(pattern, re = new RegExp(`^(?:${pattern})$`));
  return re;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** A short description of a value for error messages. */
export function describeValue(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (v instanceof Date) return "an invalid date";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") {
    return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 37) + "..." : v)}`;
  }
  return `${typeof v} ${String(v)}`;
}

export function databasePermissions(db: DatabaseConfig, base: PathBase): Partial<PermissionNeeds> {
  if (!db.enabled) return {};
  const file = resolve(base.stateDir, db.path);
  return { read: [dirname(file)], write: [dirname(file)] };
}
