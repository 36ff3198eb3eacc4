/**
 * The few WebCrypto primitives SigV4 needs: SHA-256 (hex) and HMAC-SHA256,
 * with a small cache of derived signing keys (one per secret, day, region and
 * service) so signing many requests costs one HMAC chain per day, not per request.
 */

const encoder = new TextEncoder();
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lower-case hex of `bytes`. */
export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let out = "";
  for (let i = 0; i < view.length; i++) out += HEX[view[i]!];
  return out;
}

/** Bytes of a string (UTF-8) or the bytes themselves. */
export function toBytes(data: string | Uint8Array): Uint8Array<ArrayBuffer> {
  if (typeof data === "string") return encoder.encode(data);
  return data as Uint8Array<ArrayBuffer>;
}

/** SHA-256 of `data`, lower-case hex. */
export async function sha256Hex(data: string | Uint8Array): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", toBytes(data)));
}

/** The SHA-256 of the empty string (the payload hash of a request without body). */
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

function _importHmac(key: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    key as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
}

/** HMAC-SHA256 of `data` under the raw `key`. */
export async function hmac(key: Uint8Array, data: string): Promise<Uint8Array> {
  const k = await _importHmac(key);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, encoder.encode(data)));
}

const _keys = new Map<string, Promise<CryptoKey>>();
const MAX_KEYS = 64;

/**
 * The SigV4 signing key for one scope, imported as an HMAC key:
 * HMAC(HMAC(HMAC(HMAC("AWS4" + secret, day), region), service), "aws4_request").
 */
export function signingKey(
  secret: string,
  day: string,
  region: string,
  service: string,
): Promise<CryptoKey> {
  const id = `${day}\n${region}\n${service}\n${secret}`;
  let key = _keys.get(id);
  if (!key) {
    key = (async () => {
      const kDate = await hmac(encoder.encode("AWS4" + secret), day);
      const kRegion = await hmac(kDate, region);
      const kService = await hmac(kRegion, service);
      return _importHmac(await hmac(kService, "aws4_request"));
    })();
    if (_keys.size >= MAX_KEYS) _keys.delete(_keys.keys().next().value!);
    _keys.set(id, key);
    key.catch(() => _keys.delete(id));
  }
  return key;
}

/** Lower-case hex HMAC-SHA256 of `data` under an imported key. */
export async function hmacHex(key: CryptoKey, data: string): Promise<string> {
  return toHex(await crypto.subtle.sign("HMAC", key, encoder.encode(data)));
}
