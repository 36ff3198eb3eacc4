// The dashboard's only way to the device: JSON calls to /api with the session
// cookie and the XSRF token (kept in memory, sent on every write), and the live
// feed of /api/events (server-sent events: the page never polls).

let xsrf = null;

/** Remember the XSRF token that login, setup or /api/auth/me returned. */
export function setXsrf(token) {
  xsrf = token || null;
}

/** An API error: `status`, `code`, and `fields` ([{path, message}]) for per-field problems. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code || "";
    this.fields = body?.error?.fields || [];
  }
}

/** Called on a 401 from any call (the session ended): the app shows the login. */
export const onUnauthorized = { fn: () => {} };

/** `api("GET", "/api/status")` → the parsed JSON (null for 204); throws ApiError. */
export async function api(method, path, body, headers = {}) {
  const h = { accept: "application/json", ...headers };
  if (body !== undefined) h["content-type"] = "application/json";
  if (xsrf && method !== "GET") h["x-xsrf-token"] = xsrf;
  const res = await fetch(path, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) {
    const e = new ApiError(res.status, data);
    if (res.status === 401 && !path.startsWith("/api/auth/")) onUnauthorized.fn(e);
    throw e;
  }
  return data;
}

/** Connection state of the live feed, for the header dot (null: no feed open). */
export const liveState = { set: (_on) => {} };

/**
 * Subscribe to `/api/events` topics: `live(["status"], { status(body) {…} })`.
 * Handlers are keyed by event name. Returns a function that closes the feed.
 * EventSource reconnects on its own (the server's `retry` is 3 s); each connection starts
 * with a `hello` event, then the topics' snapshots (a page starts over on `hello`).
 */
export function live(topics, handlers) {
  const es = new EventSource(`/api/events?topics=${topics.join(",")}`);
  for (const [name, fn] of Object.entries(handlers)) {
    es.addEventListener(name, (ev) => fn(JSON.parse(ev.data)));
  }
  es.addEventListener("open", () => liveState.set(true));
  es.addEventListener("error", () => {
    liveState.set(false);
    // Closed for good (not a dropped connection, which EventSource retries): a 401 shows the login.
    if (es.readyState === EventSource.CLOSED) api("GET", "/api/status").catch(() => {});
  });
  return () => {
    es.close();
    liveState.set(null);
  };
}
