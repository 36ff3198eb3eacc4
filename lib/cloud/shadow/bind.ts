/**
 * Binding of one database item to a shadow, so the common case needs no
 * code: the item's fields (all but its key fields, hidden fields and
 * metadata, or the configured `fields`) are the shadow's `reported` state,
 * reported again after every change of the item; a desired change of a bound
 * field is written to the item with origin `cloud` (sync then does not echo
 * it as a device change) and, once stored, reported back. A desired value
 * the model refuses (wrong type, unknown field) is logged and not reported,
 * so the delta stays visible in the cloud.
 *
 * ```json5
 * // schema.json5: models: { Thermostat: { pk: "T#{id}", fields: { id: { type: "string" }, setpoint: { type: "number" } } } }
 * cloud: { shadow: { enabled: true, shadows: { thermostat: { model: { name: "Thermostat", key: { id: "main" } } } } } }
 * ```
 */

import type { Database, Item } from "../../db/mod.ts";
import type { Logger } from "../../log/mod.ts";
import { isObject, type State } from "./merge.ts";
import type { Shadow } from "./shadow.ts";

/** What the config says about the binding. */
export interface ModelBinding {
  name: string;
  key: Record<string, string | number>;
  fields?: string[];
}

/** Bind `binding`'s item to `shadow`; returns the function that unbinds it. Throws for a bad binding. */
export function bindModel(
  db: Database,
  shadow: Shadow,
  binding: ModelBinding,
  log: Logger,
): () => void {
  const m = db.model(binding.name);
  const keyFields = new Set([...m.pk.fields, ...(m.sk?.fields ?? [])]);
  const raw = m.resolveKey(binding.key);
  const fields = binding.fields ??
    m.fieldNames.filter((f) => !keyFields.has(f) && !m.hidden.includes(f));
  for (const f of fields) {
    if (!m.fieldNames.includes(f)) {
      throw new TypeError(
        `Shadow "${shadow.label}": model "${m.name}" has no field "${f}" (fields: ${
          m.fieldNames.join(", ")
        })`,
      );
    }
    if (keyFields.has(f)) {
      throw new TypeError(`Shadow "${shadow.label}": "${f}" is a key field of "${m.name}"`);
    }
  }
  const pick = (item: Item | undefined): State => {
    const out: State = {};
    for (const f of fields) out[f] = item && item[f] !== undefined ? item[f] : null;
    return out;
  };
  const report = () => {
    const now = pick(db.get(m.name, binding.key));
    const cur = shadow.get().reported;
    const patch: State = {};
    for (const [k, v] of Object.entries(now)) {
      if (JSON.stringify(cur[k] ?? null) !== JSON.stringify(v)) patch[k] = v;
    }
    if (Object.keys(patch).length) {
      try {
        shadow.update(patch);
      } catch (e) {
        log.error(`Shadow "${shadow.label}": cannot report "${m.name}" item`, {
          error: (e as Error).message,
        });
      }
    }
  };
  report();
  const off = db.subscribe(m.name, (c) => {
    if (c.pk === raw.pk && c.sk === raw.sk) report();
  });
  const offDesired = shadow.onDesired((delta) => {
    const patch: State = {};
    for (const f of fields) if (Object.hasOwn(delta, f)) patch[f] = delta[f];
    if (Object.keys(patch).length === 0) return undefined;
    try {
      const item = db.update(m.name, binding.key, _flat(patch), { origin: "cloud", upsert: true });
      log.info(`Shadow "${shadow.label}": desired written to "${m.name}"`, {
        fields: Object.keys(patch),
      });
      const out: State = {};
      for (const f of Object.keys(patch)) out[f] = item[f] ?? null;
      return out;
    } catch (e) {
      log.warn(`Shadow "${shadow.label}": "${m.name}" refused the desired state`, {
        error: (e as Error).message,
      });
      return undefined;
    }
  });
  return () => {
    off();
    offDesired();
  };
}

function _flat(s: State): State {
  const out: State = {};
  for (const [k, v] of Object.entries(s)) out[k] = isObject(v) ? structuredClone(v) : v;
  return out;
}
