/**
 * ULID generation (https://github.com/ulid/spec): 48-bit time in ms and 80
 * random bits, Crockford base32, 26 characters, sorting by time. Monotonic:
 * within the same millisecond the random part is incremented, so ids made by
 * one generator always sort in creation order.
 */

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** A monotonic ULID generator reading time from `now` (ms since the epoch). */
export function ulidFactory(now: () => number): () => string {
  let lastTime = -1;
  const last = new Uint8Array(16); // 80 random bits as 16 base32 digits (5 bits each)
  return () => {
    let t = Math.floor(now());
    if (t <= lastTime) {
      t = lastTime;
      // Increment the random part as a base32 number.
      let i = 15;
      while (i >= 0 && last[i] === 31) last[i--] = 0;
      if (i < 0) throw new RangeError("ULID random part overflow within one millisecond");
      last[i]!++;
    } else {
      lastTime = t;
      const bytes = crypto.getRandomValues(new Uint8Array(16));
      for (let i = 0; i < 16; i++) last[i] = bytes[i]! & 31;
      last[0]! &= 15; // leave room to increment without overflow
    }
    let time = "";
    for (let i = 0; i < 10; i++) {
      time = ALPHABET[t % 32] + time;
      t = Math.floor(t / 32);
    }
    let rand = "";
    for (let i = 0; i < 16; i++) rand += ALPHABET[last[i]!];
    return time + rand;
  };
}
