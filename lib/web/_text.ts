/** UTF-8 coders shared by the request path (both stateless as used here: shared safely). */

/** One UTF-8 encoder. */
export const utf8: TextEncoder = new TextEncoder();
/** One strict UTF-8 decoder (throws on invalid bytes). Never call it with `{ stream: true }`. */
export const utf8Strict: TextDecoder = new TextDecoder("utf-8", { fatal: true });
