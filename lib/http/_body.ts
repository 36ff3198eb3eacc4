/**
 * A pass-through for response bodies that keeps memory constant (one chunk in
 * flight: the next chunk is read only when the consumer asks), enforces a size
 * cap, maps stream errors (timeouts, aborts) to `HttpError`, and tells the
 * client when the body is finished so it can clear its timers.
 */

/** Options of {@linkcode guardBody}. */
export interface GuardBodyOptions {
  /** Largest body in bytes; more errors the stream. @default Infinity */
  maxBytes?: number;
  /** The error to raise when the cap is passed. */
  tooLarge: (bytes: number) => Error;
  /** Map a source stream error (abort, reset) to the error the reader sees. */
  mapError: (err: unknown) => unknown;
  /** Called once when the body ends, errors or is cancelled. */
  onEnd: () => void;
}

/** Wrap `source` as described above. */
export function guardBody(
  source: ReadableStream<Uint8Array>,
  options: GuardBodyOptions,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  const max = options.maxBytes ?? Infinity;
  let total = 0;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    options.onEnd();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        end();
        controller.error(options.mapError(err));
        return;
      }
      if (chunk.done) {
        end();
        controller.close();
        return;
      }
      total += chunk.value.byteLength;
      if (total > max) {
        const err = options.tooLarge(total);
        end();
        reader.cancel(err).catch(() => {});
        controller.error(err);
        return;
      }
      controller.enqueue(chunk.value);
    },
    cancel(reason) {
      end();
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/** Read at most `limit` bytes of `body` as text, then cancel the rest. */
export async function readSnippet(
  body: ReadableStream<Uint8Array> | null,
  limit = 1024,
): Promise<string> {
  if (!body) return "";
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.byteLength;
    }
  } catch {
    // A broken error body still leaves the status to report.
  } finally {
    reader.cancel().catch(() => {});
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.byteLength;
  }
  return new TextDecoder().decode(all.subarray(0, limit)).trim();
}
