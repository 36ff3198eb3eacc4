/**
 * Shadow state algebra, pure: apply a patch the way the Device Shadow service
 * does (objects merge key by key, `null` deletes a key, arrays and scalars
 * replace), the patch that turns one state into another (`diff`), the delta
 * between desired and reported, and the three-way merge a version conflict
 * (409) is resolved with.
 *
 * Three-way merge (after Greengrass's shadow manager): given the last synced
 * document `base`, the device's `local` copy and the `cloud` document, every
 * key changed on one side only takes that side's value; a key changed on both
 * sides takes the `prefer` side's value. Tern merges `reported` preferring
 * the device and `desired` preferring the cloud.
 *
 * Empty objects are pruned (`{ a: {} }` is `{}`), as the service drops a
 * section or key whose last field was deleted; so a state never differs from
 * its echo by an empty object and a sync never loops on one.
 */

/** A JSON object (a shadow section: desired or reported). */
export type State = Record<string, unknown>;

/** Whether `v` is a plain JSON object (not an array, not null). */
export function isObject(v: unknown): v is State {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Deep equality of JSON values. */
export function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => equal(x, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => Object.hasOwn(b, k) && equal(a[k], b[k]));
  }
  return false;
}

/** A deep copy without nulls and empty objects. */
export function prune(s: State): State {
  const out: State = {};
  for (const [k, v] of Object.entries(s)) {
    if (v === null || v === undefined) continue;
    if (isObject(v)) {
      const p = prune(v);
      if (Object.keys(p).length) out[k] = p;
    } else out[k] = Array.isArray(v) ? structuredClone(v) : v;
  }
  return out;
}

/** `state` with `patch` applied (a new object): null deletes, objects merge, the rest replaces. */
export function apply(state: State, patch: State): State {
  const out: State = { ...state };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (isObject(v)) out[k] = apply(isObject(out[k]) ? out[k] as State : {}, v);
    else out[k] = Array.isArray(v) ? structuredClone(v) : v;
  }
  return prune(out);
}

/** The patch that turns `from` into `to` (`apply(from, diff(from, to))` equals `to`); {} when equal. */
export function diff(from: State, to: State): State {
  const out: State = {};
  for (const [k, v] of Object.entries(to)) {
    const f = from[k];
    if (isObject(v) && isObject(f)) {
      const d = diff(f, v);
      if (Object.keys(d).length) out[k] = d;
    } else if (!equal(f, v)) out[k] = isObject(v) ? prune(v) : v;
  }
  for (const k of Object.keys(from)) if (!Object.hasOwn(to, k)) out[k] = null;
  return out;
}

/** The fields of `desired` that `reported` does not have with the same value (AWS's delta). */
export function delta(desired: State, reported: State): State {
  const out: State = {};
  for (const [k, v] of Object.entries(desired)) {
    const r = reported[k];
    if (isObject(v) && isObject(r)) {
      const d = delta(v, r);
      if (Object.keys(d).length) out[k] = d;
    } else if (!equal(v, r)) out[k] = v;
  }
  return out;
}

/** Three-way merge of one section; see the module doc. */
export function merge3(base: State, local: State, cloud: State, prefer: "local" | "cloud"): State {
  const out: State = {};
  const keys = new Set([...Object.keys(base), ...Object.keys(local), ...Object.keys(cloud)]);
  for (const k of keys) {
    const b = base[k], l = local[k], c = cloud[k];
    let v: unknown;
    if (isObject(l) && isObject(c)) {
      v = merge3(isObject(b) ? b : {}, l, c, prefer);
    } else {
      const localChanged = !equal(b, l);
      const cloudChanged = !equal(b, c);
      if (localChanged && cloudChanged) v = prefer === "local" ? l : c;
      else if (localChanged) v = l;
      else v = c;
    }
    if (v !== undefined && v !== null) out[k] = v;
  }
  return prune(out);
}

/** Nesting depth of a value: a scalar is 0, `{ a: 1 }` is 1, `{ a: { b: 1 } }` is 2. */
export function depth(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depth));
  if (isObject(v)) return 1 + Math.max(0, ...Object.values(v).map(depth));
  return 0;
}

/** Number of leaf fields in a patch (a nested object counts its leaves, at least 1). */
export function countFields(s: State): number {
  let n = 0;
  for (const v of Object.values(s)) n += isObject(v) ? Math.max(1, countFields(v)) : 1;
  return n;
}
