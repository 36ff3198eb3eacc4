/**
 * Who is calling: session cookies and bearer tokens, on the `AuthStore`.
 *
 * Cookie: `tern_session=<43 chars>; Path=/; HttpOnly; SameSite=Strict`, on
 * TLS `__Host-tern_session=…; Secure`. The value is 32 random bytes; the
 * database keys the session by its SHA-256. A new id is issued at every
 * login (the old session, if any, is removed), so a planted cookie never
 * becomes a logged-in session (no fixation). Sessions end after
 * `idleTimeout` ms without a request or `absoluteTimeout` ms after login.
 *
 * XSRF: each session has a random token, returned by login and
 * `GET /api/auth/me`; state-changing requests authenticated by the cookie
 * must send it in `X-XSRF-Token` (compared in constant time).
 *
 * Bearer: `Authorization: Bearer tern_<43 chars>`; the database holds only
 * the SHA-256. Tokens carry a role and are revoked by removing them.
 *
 * Sessions are cached in memory (keyed by hash, a bounded LRU of
 * `cacheSize` entries) and their `lastSeen` is written back at most once a
 * minute (or a tenth of the idle timeout), so an authenticated request with
 * a cached session does no database read or write. The cache cannot go
 * stale: every committed change to `_Session` (delete), `_User` (any) or
 * `_Token` made through this process's database evicts the affected entries
 * at once (logout, password, role or disabled change, user removal, token
 * revocation), and a change committed by another process (`tern user
 * passwd`, `tern token revoke`) is noticed through SQLite's `PRAGMA
 * data_version`, checked at most once a second on authenticated requests,
 * which empties the caches. Tokens are also re-read every 5 s.
 */

import type { Clock } from "../../clock.ts";
import { dataVersionReader } from "../../db/mod.ts";
import type { Logger } from "../../log/mod.ts";
import type { Authenticator } from "../app.ts";
import type { WebContext, WebUser } from "../context.ts";
import { randomToken, timingSafeEqual } from "./password.ts";
import { type AuthStore, secretId, type SessionRow } from "./store.ts";

/** Options of {@linkcode SessionAuth}. */
export interface SessionAuthOptions {
  store: AuthStore;
  clock: Clock;
  log: Logger;
  /** ms. @default 1800000 */
  idleTimeout?: number;
  /** ms. @default 43200000 */
  absoluteTimeout?: number;
  /** @default "tern_session" */
  cookie?: string;
  /** Sessions (and tokens) kept in memory; the least recently used go first. @default 10000 */
  cacheSize?: number;
  /** Told when a request finds its session past a timeout (the audit trail). */
  onExpire?: (session: SessionRow, reason: "idle" | "absolute") => void;
}

const TOUCH_MS = 60_000;
/** How often (ms) to ask SQLite whether another process committed a change. */
const FOREIGN_CHECK_MS = 1_000;
const TOKEN_CACHE_MS = 5_000;
const TOKEN_PREFIX = "tern_";
/** Cookie headers remembered per scheme (see `#plainHeaders`), and the longest remembered. */
const HEADER_MEMO_SIZE = 256;
const HEADER_MEMO_LENGTH = 512;

/** A session row as cached, with the principal requests made with it get. */
type _CachedSession = SessionRow & { principal?: Readonly<WebUser> };

export class SessionAuth implements Authenticator {
  readonly store: AuthStore;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #idle: number;
  readonly #absolute: number;
  readonly #cookie: string;
  readonly #onExpire: SessionAuthOptions["onExpire"];
  #cache = new Map<string, _CachedSession>();
  /**
   * Cookie header exactly as sent → session key (the SHA-256 of the cookie's
   * value), for plain and TLS requests: a browser sends the same header on
   * every call, so this skips parsing it and hashing the value. Headers up to
   * `HEADER_MEMO_LENGTH` characters, `HEADER_MEMO_SIZE` of them (dropped when
   * full); a longer header is parsed and hashed each time.
   */
  #plainHeaders = new Map<string, string>();
  #secureHeaders = new Map<string, string>();
  /** Bearer token → its id, likewise (a token is ≤ 200 characters). */
  #tokenIds = new Map<string, string>();
  #tokens = new Map<string, { role: string; name: string; id: string; at: number } | null>();
  readonly #max: number;
  readonly #unsubscribe: (() => void)[] = [];
  #dataVersion: (() => unknown) | undefined;
  #version: unknown;
  #checkedAt = -Infinity;

  constructor(options: SessionAuthOptions) {
    this.store = options.store;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#idle = options.idleTimeout ?? 30 * 60_000;
    this.#absolute = options.absoluteTimeout ?? 12 * 3600_000;
    this.#cookie = options.cookie ?? "tern_session";
    this.#onExpire = options.onExpire;
    this.#max = Math.max(1, options.cacheSize ?? 10_000);
    this.#watch();
  }

  /** Evict cached entries when the rows behind them change (this process or another). */
  #watch(): void {
    const db = this.store.db;
    this.#unsubscribe.push(
      db.subscribe("_Session", (c) => {
        if (c.op === "delete" && c.pk.startsWith("Session#")) this.#cache.delete(c.pk.slice(8));
      }),
      db.subscribe("_User", (c) => {
        if (c.pk.startsWith("User#")) this.#forgetUser(c.pk.slice(5));
      }),
      db.subscribe("_Token", () => this.#tokens.clear()),
    );
    try {
      const read = dataVersionReader(db.sql);
      this.#dataVersion = read;
      this.#version = read();
    } catch (e) {
      // Without it, another process's changes are still seen at the next lastSeen write.
      this.#log.warn("PRAGMA data_version unavailable", { error: String(e) });
    }
  }

  /** Empty the caches when another connection committed to the database since the last look. */
  #foreignCheck(now: number): void {
    if (now - this.#checkedAt < FOREIGN_CHECK_MS || !this.#dataVersion) return;
    this.#checkedAt = now;
    let v: unknown;
    try {
      v = this.#dataVersion();
    } catch {
      v = undefined; // closed database: treat as changed
    }
    if (v !== this.#version || v === undefined) {
      this.#version = v;
      this.flush();
    }
  }

  #forgetUser(username: string): void {
    for (const [k, s] of this.#cache) if (s.username === username) this.#cache.delete(k);
  }

  /** Stop watching the database (the app is being dropped). */
  close(): void {
    for (const u of this.#unsubscribe.splice(0)) u();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** The cookie name for a plain or a TLS request. */
  cookieName(secure: boolean): string {
    return secure ? `__Host-${this.#cookie}` : this.#cookie;
  }

  /**
   * The user of the request's session cookie or, failing that, of its bearer token, at
   * `ctx.now` (the app's clock). A valid session wins over a token sent with it (the order of
   * Django REST Framework's and Laravel Sanctum's defaults): its unsafe requests then need the
   * XSRF token.
   */
  authenticate(
    _req: Request,
    ctx: WebContext,
  ): WebUser | undefined | Promise<WebUser | undefined> {
    const cookie = ctx.header("cookie");
    if (cookie !== null) {
      const user = this.#fromCookie(cookie, ctx);
      if (user instanceof Promise) return user.then((u) => u ?? this.#fromBearer(ctx));
      if (user !== undefined) return user;
    }
    return this.#fromBearer(ctx);
  }

  #fromBearer(ctx: WebContext): WebUser | undefined | Promise<WebUser | undefined> {
    const auth = ctx.header("authorization");
    if (auth === null) return undefined;
    this.#foreignCheck(ctx.now);
    return this.#bearer(auth, ctx.now);
  }

  /**
   * The session of a Cookie header: from the header → key table when this header was seen
   * before (synchronous, the common case), else after hashing the cookie's value (WebCrypto).
   */
  #fromCookie(cookie: string, ctx: WebContext): WebUser | undefined | Promise<WebUser | undefined> {
    const secure = ctx.secure;
    const seen = secure ? this.#secureHeaders : this.#plainHeaders;
    const key = seen.get(cookie);
    if (key !== undefined) return this.#user(key, ctx);
    const value = readCookie(cookie, this.cookieName(secure));
    if (value === undefined || value.length > 100) return undefined;
    return secretId(value).then((key) => {
      if (cookie.length <= HEADER_MEMO_LENGTH) {
        if (seen.size >= HEADER_MEMO_SIZE) seen.clear();
        seen.set(cookie, key);
      }
      return this.#user(key, ctx);
    });
  }

  /** The principal of session `key`, noted on the context, or undefined when it is not live. */
  #user(key: string, ctx: WebContext): WebUser | undefined {
    const s = this.#session(key, ctx.now);
    if (!s) return undefined;
    ctx.sessionKey = key;
    ctx.xsrf = s.xsrf;
    // One frozen principal per cached session: a change to the user evicts the session.
    return s.principal ??= Object.freeze({
      id: s.username,
      username: s.username,
      role: s.role,
      via: "session",
    });
  }

  /** The live session of `key` at `now` (the request's time, on this auth's clock). */
  #session(key: string, now: number): _CachedSession | undefined {
    this.#foreignCheck(now);
    let s = this.#cache.get(key);
    if (!s) {
      s = this.store.getSession(key);
      if (!s) return undefined;
      // The role is the user's current one (not the one at login); a disabled or removed user
      // has no session. Cached with the session: a change to the user evicts both.
      const user = this.store.getUser(s.username);
      if (!user || user.disabled) {
        this.store.removeSession(key);
        return undefined;
      }
      s.role = user.role;
      this.#remember(key, s);
    }
    if (now - s.lastSeen >= this.#idle || now - s.started >= this.#absolute) {
      this.#cache.delete(key);
      this.store.removeSession(key);
      this.#onExpire?.(s, now - s.started >= this.#absolute ? "absolute" : "idle");
      return undefined;
    }
    if (now - s.lastSeen > Math.min(TOUCH_MS, this.#idle / 10)) {
      s.lastSeen = now;
      s.expires = this.#expiry(s);
      // The write doubles as a check that no other process (tern user passwd/remove) ended it.
      if (!this.store.touchSession(key, s.lastSeen, s.expires)) {
        this.#cache.delete(key);
        return undefined;
      }
      // Recently used: move to the young end of the LRU (here, not per request: cheaper).
      this.#cache.delete(key);
      this.#cache.set(key, s);
    }
    return s;
  }

  #remember(key: string, s: _CachedSession): void {
    if (this.#cache.size >= this.#max) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(key, s);
  }

  #expiry(s: { lastSeen: number; started: number }): string {
    return new Date(Math.min(s.lastSeen + this.#idle, s.started + this.#absolute)).toISOString();
  }

  /** The token of an `Authorization: Bearer` header (its id from the same kind of table). */
  #bearer(header: string, now: number): WebUser | undefined | Promise<WebUser | undefined> {
    const m = /^Bearer\s+(\S{1,200})$/i.exec(header);
    if (!m || !m[1]!.startsWith(TOKEN_PREFIX)) return undefined;
    const id = this.#tokenIds.get(m[1]!);
    if (id !== undefined) return this.#token(id, now);
    return secretId(m[1]!).then((id) => {
      if (this.#tokenIds.size >= HEADER_MEMO_SIZE) this.#tokenIds.clear();
      this.#tokenIds.set(m[1]!, id);
      return this.#token(id, now);
    });
  }

  #token(id: string, now: number): WebUser | undefined {
    let t = this.#tokens.get(id);
    // Re-read after TOKEN_CACHE_MS so a revocation by the CLI takes effect promptly.
    if (t === undefined || (t !== null && now - t.at > TOKEN_CACHE_MS)) {
      const row = this.store.getToken(id);
      t = row ? { role: row.role, name: row.name, id, at: now } : null;
      this.#tokens.delete(id);
      if (this.#tokens.size >= this.#max) this.#tokens.delete(this.#tokens.keys().next().value!);
      if (t) this.#tokens.set(id, t);
    }
    if (!t) return undefined;
    return { id: `token:${t.name}`, username: `token:${t.name}`, role: t.role, via: "token" };
  }

  checkXsrf(_req: Request, ctx: WebContext): boolean {
    const sent = ctx.header("x-xsrf-token");
    const want = ctx.xsrf;
    return sent !== null && typeof want === "string" && timingSafeEqual(sent, want);
  }

  /**
   * Start a session for `username` (after the password was checked). Removes
   * the session the request came with, if any. Returns the Set-Cookie value
   * and the XSRF token.
   */
  async login(
    username: string,
    role: string,
    ctx: WebContext,
  ): Promise<{ setCookie: string; xsrf: string }> {
    if (ctx.sessionKey) this.logout(ctx.sessionKey);
    const oldCookie = ctx.req.headers.get("cookie");
    const old = oldCookie ? readCookie(oldCookie, this.cookieName(ctx.secure)) : undefined;
    if (old && old.length <= 100) this.logout(await secretId(old));
    const value = randomToken(32);
    const id = await secretId(value);
    const now = this.#clock.now();
    const row: SessionRow = {
      id,
      username,
      role,
      xsrf: randomToken(24),
      lastSeen: now,
      started: now,
      expires: "",
    };
    row.expires = this.#expiry(row);
    this.store.putSession({ ...row, addr: ctx.remoteAddr });
    this.#remember(row.id, row);
    ctx.sessionKey = row.id;
    ctx.xsrf = row.xsrf;
    return { setCookie: this.#cookieHeader(value, ctx.secure), xsrf: row.xsrf };
  }

  /** End a session by its key. */
  logout(key: string): void {
    this.#cache.delete(key);
    this.store.removeSession(key);
  }

  /** End every session of a user (password change, removal, role change). */
  logoutUser(username: string): void {
    this.#forgetUser(username);
    this.store.removeSessionsOf(username);
  }

  /** A Set-Cookie value that clears the session cookie. */
  clearCookie(secure: boolean): string {
    return `${this.cookieName(secure)}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${
      secure ? "; Secure" : ""
    }`;
  }

  #cookieHeader(value: string, secure: boolean): string {
    return `${this.cookieName(secure)}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${
      Math.floor(this.#absolute / 1000)
    }${secure ? "; Secure" : ""}`;
  }

  /** Create an API token; returns the secret (shown once). */
  async createToken(name: string, role: string): Promise<{ token: string; prefix: string }> {
    const token = TOKEN_PREFIX + randomToken(32);
    const prefix = token.slice(0, 12);
    this.store.putToken({ id: await secretId(token), name, role, prefix });
    this.#log.info("API token created", { name, role, prefix });
    return { token, prefix };
  }

  revokeToken(idOrPrefix: string): number {
    const n = this.store.revokeToken(idOrPrefix);
    this.#tokens.clear();
    this.#tokenIds.clear();
    return n;
  }

  /** Forget cached sessions and tokens (after changes made by another process). */
  flush(): void {
    this.#cache.clear();
    this.#tokens.clear();
  }
}

/** The value of cookie `name` in a Cookie header. */
export function readCookie(header: string, name: string): string | undefined {
  // A scan instead of split/trim: it runs on every authenticated request.
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(";", start);
    if (end < 0) end = header.length;
    const eq = header.indexOf("=", start);
    if (eq >= 0 && eq < end && header.slice(start, eq).trim() === name) {
      return header.slice(eq + 1, end).trim();
    }
    start = end + 1;
  }
  return undefined;
}
