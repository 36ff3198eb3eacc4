/**
 * Password hashing with PBKDF2-SHA256 through WebCrypto (runs off the main
 * thread), a 16-byte random salt per hash, and constant-time comparison.
 *
 * Stored format: `pbkdf2-sha256$<iterations>$<salt base64url>$<hash base64url>`
 * (32-byte hash). The iteration count is stored with each hash, so raising
 * `web.auth.iterations` rehashes a user's password at their next login
 * (`needsRehash`). Why 210,000 by default: see docs/security.md.
 */

const enc = new TextEncoder();
const PREFIX = "pbkdf2-sha256";

/** Maximum password length accepted (bytes): bounds hashing work per request. */
export const MAX_PASSWORD = 1024;

function b64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function unb64url(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Random bytes as base64url (ids, tokens, salts). */
export function randomToken(bytes = 32): string {
  return b64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

async function derive(
  password: string,
  salt: Uint8Array<ArrayBuffer>,
  iterations: number,
): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", enc.encode(password), "PBKDF2", false, [
    "deriveBits",
  ]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    key,
    256,
  );
  return new Uint8Array(bits);
}

/** Hash a password for storage. */
export async function hashPassword(password: string, iterations: number): Promise<string> {
  if (password.length > MAX_PASSWORD) throw new RangeError("Password is too long");
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const hash = await derive(password, salt, iterations);
  return `${PREFIX}$${iterations}$${b64url(salt)}$${b64url(hash)}`;
}

/**
 * Check a password against a stored hash in constant time. `stored`
 * undefined (unknown user) still spends one derivation, so timing does not
 * tell whether the user exists.
 */
export async function verifyPassword(
  password: string,
  stored: string | undefined,
  iterations: number,
): Promise<{ ok: boolean; needsRehash: boolean }> {
  const parts = stored?.split("$");
  if (!parts || parts.length !== 4 || parts[0] !== PREFIX || password.length > MAX_PASSWORD) {
    await derive("x", new Uint8Array(16), iterations);
    return { ok: false, needsRehash: false };
  }
  const iter = Number(parts[1]);
  const got = await derive(password, unb64url(parts[2]!), iter);
  const ok = timingSafeEqual(got, unb64url(parts[3]!));
  return { ok, needsRehash: ok && iter !== iterations };
}

/** Constant-time equality of two byte arrays (or strings, compared as UTF-8). */
export function timingSafeEqual(a: Uint8Array | string, b: Uint8Array | string): boolean {
  const x = typeof a === "string" ? enc.encode(a) : a;
  const y = typeof b === "string" ? enc.encode(b) : b;
  let diff = x.length ^ y.length;
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) diff |= (x[i % (x.length || 1)] ?? 0) ^ (y[i % (y.length || 1)] ?? 0);
  return diff === 0;
}
