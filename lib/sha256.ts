/**
 * Synchronous SHA-256 (FIPS 180-4) for the one place that needs a digest
 * without awaiting: the hashed session and token ids, looked up inside the
 * synchronous request path (and cached per cookie). WebCrypto's `digest` is
 * async, and `node:crypto`
 * would load Node's compatibility layer (about 1.5 MB resident) into an agent
 * that otherwise has no use for it. Checked against WebCrypto in
 * lib/sha256_test.ts.
 */

// First 32 bits of the fractional parts of the cube roots of the first 64 primes.
const K = new Uint32Array([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
]);
// First 32 bits of the fractional parts of the square roots of the first 8 primes.
const H0 = [
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
];

const W = new Int32Array(64);
const encoder = new TextEncoder();

/** Compress the 64-byte blocks of `m` from byte `from` into the state `h`. */
function blocks(h: Int32Array, m: Uint8Array, from: number, to: number): void {
  let [a, b, c, d, e, f, g, hh] = h as unknown as number[];
  for (let p = from; p < to; p += 64) {
    for (let i = 0; i < 16; i++) {
      const j = p + i * 4;
      W[i] = (m[j]! << 24) | (m[j + 1]! << 16) | (m[j + 2]! << 8) | m[j + 3]!;
    }
    for (let i = 16; i < 64; i++) {
      const x = W[i - 15]!, y = W[i - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
    }
    const a0 = a!, b0 = b!, c0 = c!, d0 = d!, e0 = e!, f0 = f!, g0 = g!, h0 = hh!;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e! >>> 6) | (e! << 26)) ^ ((e! >>> 11) | (e! << 21)) ^ ((e! >>> 25) | (e! << 7));
      const t1 = (hh! + S1 + ((e! & f!) ^ (~e! & g!)) + K[i]! + W[i]!) | 0;
      const S0 = ((a! >>> 2) | (a! << 30)) ^ ((a! >>> 13) | (a! << 19)) ^
        ((a! >>> 22) | (a! << 10));
      const t2 = (S0 + ((a! & b!) ^ (a! & c!) ^ (b! & c!))) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d! + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    a = (a! + a0) | 0;
    b = (b! + b0) | 0;
    c = (c! + c0) | 0;
    d = (d! + d0) | 0;
    e = (e! + e0) | 0;
    f = (f! + f0) | 0;
    g = (g! + g0) | 0;
    hh = (hh! + h0) | 0;
  }
  h[0] = a!, h[1] = b!, h[2] = c!, h[3] = d!, h[4] = e!, h[5] = f!, h[6] = g!, h[7] = hh!;
}

const STATE = new Int32Array(8);
const TAIL = new Uint8Array(128);
const SHORT = new Uint8Array(256);

/** Hash `m` into STATE. */
function digestInto(m: Uint8Array): void {
  STATE.set(H0);
  const full = m.length - (m.length % 64);
  blocks(STATE, m, 0, full);
  // The tail: the last partial block, 0x80, zeros, the length in bits (big-endian, 64 bits).
  const rest = m.length - full;
  const n = rest < 56 ? 64 : 128;
  TAIL.fill(0, 0, n);
  TAIL.set(m.subarray(full));
  TAIL[rest] = 0x80;
  const hi = Math.floor(m.length / 0x20000000), lo = (m.length << 3) >>> 0;
  TAIL[n - 8] = hi >>> 24, TAIL[n - 7] = hi >>> 16, TAIL[n - 6] = hi >>> 8, TAIL[n - 5] = hi;
  TAIL[n - 4] = lo >>> 24, TAIL[n - 3] = lo >>> 16, TAIL[n - 2] = lo >>> 8, TAIL[n - 1] = lo;
  blocks(STATE, TAIL, 0, n);
}

/** The bytes to hash: short strings are encoded into a reused buffer. */
function input(data: Uint8Array | string): Uint8Array {
  if (typeof data !== "string") return data;
  if (data.length <= 85) {
    const { written } = encoder.encodeInto(data, SHORT);
    return SHORT.subarray(0, written);
  }
  return encoder.encode(data);
}

/** The SHA-256 digest (32 bytes) of bytes, or of a string as UTF-8. */
export function sha256(data: Uint8Array | string): Uint8Array<ArrayBuffer> {
  digestInto(input(data));
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    const w = STATE[i]!;
    out[i * 4] = w >>> 24, out[i * 4 + 1] = w >>> 16, out[i * 4 + 2] = w >>> 8, out[i * 4 + 3] = w;
  }
  return out;
}

/** Lower-case hex of a SHA-256 digest. */
export function sha256Hex(data: Uint8Array | string): string {
  digestInto(input(data));
  let s = "";
  for (let i = 0; i < 8; i++) s += (STATE[i]! >>> 0).toString(16).padStart(8, "0");
  return s;
}
