/**
 * Secret redaction for log records. Two rules:
 * 1. A field whose key looks like a secret (password, secret, token, key,
 *    authorization, cookie, credential…) has its value replaced by "[redacted]".
 * 2. Any registered secret value (every secret from the config, temporary
 *    credentials at run time) is replaced wherever it appears: in the message,
 *    in string fields, inside error messages.
 */

export const REDACTED = "[redacted]";

const SECRET_KEY =
  /(pass(word|wd|phrase)?|secret|token|(^|[_\-.])key$|[a-z]Key$|^key$|authorization|cookie|credential|signature|private)/i;

/** True when a field named `key` must never be logged in clear. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** Holds the secret values to scrub from every log line. */
export class Redactor {
  #values = new Set<string>();
  #pattern: RegExp | undefined;

  /** Register a value to scrub; values shorter than 4 characters are ignored (too common). */
  add(value: string): void {
    if (typeof value !== "string" || value.length < 4 || this.#values.has(value)) return;
    this.#values.add(value);
    this.#pattern = undefined;
  }

  get size(): number {
    return this.#values.size;
  }

  /** Replace every registered secret inside `text`. */
  text(text: string): string {
    if (this.#values.size === 0) return text;
    this.#pattern ??= new RegExp(
      [...this.#values].sort((a, b) => b.length - a.length).map(_escape).join("|"),
      "g",
    );
    return text.replace(this.#pattern, REDACTED);
  }

  /** A deep copy of `value` with secret keys and secret values redacted. */
  value(value: unknown, depth = 0): unknown {
    if (typeof value === "string") return this.text(value);
    if (value === null || typeof value !== "object") return value;
    if (depth > 8) return "[depth]";
    if (value instanceof Error) {
      const out: Record<string, unknown> = {
        name: value.name,
        message: this.text(value.message),
      };
      const code = (value as { code?: unknown }).code;
      if (code !== undefined) out.code = code;
      if (value.cause !== undefined) out.cause = this.value(value.cause, depth + 1);
      return out;
    }
    if (value instanceof Uint8Array) return `[${value.byteLength} bytes]`;
    if (Array.isArray(value)) return value.map((v) => this.value(v, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = isSecretKey(k) && v !== undefined && v !== null && v !== ""
        ? REDACTED
        : this.value(v, depth + 1);
    }
    return out;
  }
}

function _escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
