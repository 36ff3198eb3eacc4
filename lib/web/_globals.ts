/**
 * What the request path needs from the runtime's globals, set up once.
 *
 * Deno defines `Response`, `Request`, `Headers`, `ReadableStream`, `TextEncoder` and most other
 * web classes as getters on `globalThis` that load their module on first use and look it up on
 * every later one, so each mention of such a name in code runs that getter: the JIT cannot fold
 * it into a constant as it does for `Map`, `Date` or `performance` (plain values). On a request
 * path that otherwise costs a few µs, the two mentions of `Response` per authenticated API read
 * were 4–6 % of its CPU (measured with two smaller cuts in the data API).
 */

/** The classes a request path builds and checks, pinned by {@linkcode pinWebClasses}. */
const PINNED = ["Response", "Request", "Headers", "ReadableStream"] as const;

/**
 * Make the web classes of {@linkcode PINNED} plain values of `globalThis` (every `WebApp` does
 * when it is built; they are loaded by then anyway): Tern's request path and a device maker's
 * handler that says `new Response(…)` then skip the getter. The same classes, writable and
 * configurable as before, not enumerable (as the Web IDL spells globals). A property that is
 * already a plain value is left alone.
 */
export function pinWebClasses(): void {
  for (const name of PINNED) {
    const d = Object.getOwnPropertyDescriptor(globalThis, name);
    if (d?.get === undefined || !d.configurable) continue;
    const value = (globalThis as Record<string, unknown>)[name];
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true });
  }
}

/** One UTF-8 encoder for the request path (stateless: shared safely). */
export const utf8: TextEncoder = new TextEncoder();
/** One strict UTF-8 decoder (throws on invalid bytes). Shared safely: never call it with `{ stream: true }`. */
export const utf8Strict: TextDecoder = new TextDecoder("utf-8", { fatal: true });
