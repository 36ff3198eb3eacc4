/**
 * The runtime classes the request path builds and checks, read from `globalThis` once.
 *
 * Deno defines `Response`, `Headers`, `ReadableStream`, `TextEncoder` and most other web classes
 * as getters on `globalThis` (their modules load on first use), so every mention of such a name
 * in code calls that getter: the JIT cannot fold it into a constant as it does for `Map` or
 * `Date`, and a request path that says `new Response(…)` and `instanceof Response` pays two
 * getter calls (≈ 40 ns each here) per request. Code on the request path uses these bindings.
 */

/** `globalThis.Response`, read once. */
export const ResponseClass: typeof Response = globalThis.Response;
