/**
 * The Device Shadow service's documented limits, checked before anything is
 * stored or sent, so a bad value gets a clear error and changes nothing:
 *
 * - thing name: 1–128 characters of `[a-zA-Z0-9:_-]`
 * - shadow name: 1–64 characters of `[a-zA-Z0-9:_-]` (the classic shadow has none)
 * - clientToken: at most 64 bytes
 * - state document (desired and reported, as JSON, without metadata): at most 8 KB (8192 bytes)
 * - nesting depth of desired and of reported: at most 6 levels (`{ a: 1 }` is one level)
 * - requests in flight per connection: at most 10
 *
 * The service answers a request over these limits with 400 or 413; checking
 * them here means the device never builds a state the cloud would refuse.
 */

import { depth, isObject, type State } from "./merge.ts";

export const SHADOW_LIMITS = {
  thingName: 128,
  shadowName: 64,
  clientToken: 64,
  stateBytes: 8192,
  depth: 6,
  inflight: 10,
} as const;

const NAME = /^[a-zA-Z0-9:_-]+$/;
const encoder = new TextEncoder();

/** A limit a value broke: `code` is the AWS status the service would answer with. */
export class ShadowLimitError extends RangeError {
  override name = "ShadowLimitError";
  readonly code: 400 | 413;
  constructor(message: string, code: 400 | 413 = 400) {
    super(message);
    this.code = code;
  }
}

/** Throws unless `name` is a valid thing name. */
export function checkThingName(name: string): void {
  _checkName("Thing name", name, SHADOW_LIMITS.thingName);
}

/** Throws unless `name` is a valid named-shadow name. */
export function checkShadowName(name: string): void {
  _checkName("Shadow name", name, SHADOW_LIMITS.shadowName);
}

function _checkName(what: string, name: string, max: number): void {
  if (typeof name !== "string" || name.length === 0) {
    throw new ShadowLimitError(`${what} must not be empty`);
  }
  if (name.length > max) {
    throw new ShadowLimitError(
      `${what} "${name.slice(0, 20)}…" is ${name.length} characters; AWS allows at most ${max}`,
    );
  }
  if (!NAME.test(name)) {
    throw new ShadowLimitError(
      `${what} "${name}" may contain only letters, digits, ":", "_" and "-"`,
    );
  }
}

/** Throws unless `patch` is a JSON object a shadow section can take (depth, JSON values). */
export function checkPatch(what: string, patch: unknown): asserts patch is State {
  if (!isObject(patch)) {
    throw new TypeError(`${what} must be a JSON object, got ${_describe(patch)}`);
  }
  const bad = _firstBad(patch, what);
  if (bad) throw new TypeError(bad);
  const d = depth(patch);
  if (d > SHADOW_LIMITS.depth) {
    throw new ShadowLimitError(
      `${what} is nested ${d} levels deep; AWS allows at most ${SHADOW_LIMITS.depth}`,
    );
  }
}

/** Bytes of the state document `{ desired, reported }` as the service measures it. */
export function stateBytes(desired: State, reported: State): number {
  const s: State = {};
  if (Object.keys(desired).length) s.desired = desired;
  if (Object.keys(reported).length) s.reported = reported;
  return encoder.encode(JSON.stringify(s)).length;
}

/** Throws (413) when the resulting state would be over 8 KB. */
export function checkStateSize(desired: State, reported: State): void {
  const n = stateBytes(desired, reported);
  if (n > SHADOW_LIMITS.stateBytes) {
    throw new ShadowLimitError(
      `Shadow state would be ${n} bytes (desired + reported); AWS allows at most ${SHADOW_LIMITS.stateBytes}`,
      413,
    );
  }
}

function _firstBad(v: unknown, path: string): string | undefined {
  if (v === null || typeof v === "string" || typeof v === "boolean") return undefined;
  if (typeof v === "number") {
    return Number.isFinite(v) ? undefined : `${path} is ${v}, which JSON cannot carry`;
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const b = _firstBad(v[i], `${path}[${i}]`);
      if (b) return b;
    }
    return undefined;
  }
  if (isObject(v)) {
    if (Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null) {
      return `${path} is a ${_describe(v)}, not a plain JSON object`;
    }
    for (const [k, x] of Object.entries(v)) {
      const b = _firstBad(x, `${path}.${k}`);
      if (b) return b;
    }
    return undefined;
  }
  return `${path} is ${_describe(v)}, which JSON cannot carry`;
}

function _describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return (v as object).constructor?.name ?? "an object";
  return typeof v;
}
