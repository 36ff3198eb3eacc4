/**
 * Set `key` on `obj` as an own, enumerable, writable data property, also when
 * it is `"__proto__"` (a plain assignment would change the prototype instead).
 * For objects built from untrusted input: parsed JSON5, validated data.
 */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(obj, key, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  } else obj[key] = value;
}
