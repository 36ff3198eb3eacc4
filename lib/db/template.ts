/**
 * Key templates: `"Sensor#${deviceId}"` compiled once into literal parts and
 * field names, rendered per item. Values render as text: strings as they are,
 * numbers with `String(n)`, booleans as "true"/"false", dates as ISO 8601 UTC
 * (so they sort by time). Numbers do not sort numerically as text: pad them
 * in the field if a range over them matters.
 */

import { templateFields } from "../config/mod.ts";

export class Template {
  readonly source: string;
  /** Field names in order of appearance. */
  readonly fields: string[];
  /** Literal text around the fields: `literals.length === fields.length + 1`. */
  readonly literals: string[];

  constructor(source: string) {
    this.source = source;
    this.fields = templateFields(source);
    this.literals = source.split(/\$\{[^}]*\}/g);
  }

  /** Render with every field present in `values` (already normalized). */
  render(values: Record<string, unknown>): string {
    let out = this.literals[0]!;
    for (let i = 0; i < this.fields.length; i++) {
      out += keyText(values[this.fields[i]!]) + this.literals[i + 1]!;
    }
    return out;
  }
}

/** The text of a key value. */
export function keyText(v: unknown): string {
  if (typeof v === "string") return v;
  if (v instanceof Date) return v.toISOString();
  return String(v);
}
