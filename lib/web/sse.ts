/**
 * Server-sent events: `const sse = new SseStream(ctx.signal); sse.send({ data })`
 * and return `sse.response()`. Lines are `event:`, `id:`, `data:` (one per
 * line of the data), then a blank line; a `: ping` comment every
 * `heartbeat` ms keeps proxies from closing the stream. The stream closes
 * when the client goes away (signal) or on `close()`. Routes that stream
 * should set `timeout: 0` (the request deadline covers only the headers,
 * which SSE sends at once, so any timeout works too).
 */

/** One event. */
export interface SseEvent {
  data: unknown;
  event?: string;
  id?: string;
  /** Client reconnect delay in ms. */
  retry?: number;
}

const enc = new TextEncoder();

export class SseStream {
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  readonly stream: ReadableStream<Uint8Array>;

  /** @param heartbeat ms between keep-alive comments @default 15000 */
  constructor(signal?: AbortSignal, heartbeat = 15_000) {
    this.stream = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#controller = c;
      },
      cancel: () => this.close(),
    }, { highWaterMark: 64 });
    if (heartbeat > 0) this.#timer = setInterval(() => this.#write(": ping\n\n"), heartbeat);
    signal?.addEventListener("abort", () => this.close(), { once: true });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Queue one event; false when the stream is closed or the client is too slow (buffer full). */
  send(e: SseEvent): boolean {
    let out = "";
    if (e.event) out += `event: ${e.event.replace(/[\r\n]/g, "")}\n`;
    if (e.id) out += `id: ${e.id.replace(/[\r\n]/g, "")}\n`;
    if (e.retry !== undefined) out += `retry: ${Math.floor(e.retry)}\n`;
    const text = typeof e.data === "string" ? e.data : JSON.stringify(e.data);
    for (const line of text.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
    return this.#write(out + "\n");
  }

  #write(s: string): boolean {
    if (this.#closed || !this.#controller) return false;
    if ((this.#controller.desiredSize ?? 1) <= 0) return false;
    this.#controller.enqueue(enc.encode(s));
    return true;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    try {
      this.#controller?.close();
    } catch { /* already closed or cancelled */ }
  }

  response(): Response {
    const r = new Response(this.stream);
    r.headers.append("content-type", "text/event-stream; charset=utf-8");
    r.headers.append("cache-control", "no-store");
    return r;
  }
}
