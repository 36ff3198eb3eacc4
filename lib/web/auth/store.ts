/**
 * Users, sessions and API tokens in the database, as system models:
 *
 * - `_User`    pk `User#${username}`: role, name, passwordHash (hidden), disabled
 * - `_Session` pk `Session#${id}`: id is the SHA-256 of the cookie value (a
 *   stolen database does not hold usable cookies); username, role, xsrf,
 *   lastSeen, expires (ttl: purged by the database when past)
 * - `_Token`   pk `Token#${id}`: id is the SHA-256 of the bearer token;
 *   name, role, prefix (first chars, to recognise it in a list), lastUsed
 *
 * All calls are synchronous (node:sqlite), which keeps authenticated
 * requests on the server's fast path.
 */

import type { Database } from "../../db/mod.ts";
import type { ThrottleStore } from "./throttle.ts";

export const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

export const SYSTEM_MODELS = {
  _User: {
    pk: "User#${username}",
    fields: {
      username: { type: "string", required: true, pattern: USER_NAME.source },
      role: { type: "string", required: true },
      name: { type: "string", max: 200 },
      passwordHash: { type: "string", required: true, hidden: true },
      disabled: { type: "boolean", default: false },
      lastLogin: { type: "date" },
    },
  },
  _Session: {
    pk: "Session#${id}",
    fields: {
      id: { type: "string", required: true, hidden: true },
      username: { type: "string", required: true },
      role: { type: "string", required: true },
      xsrf: { type: "string", required: true, hidden: true },
      lastSeen: { type: "number", required: true },
      started: { type: "number", required: true },
      expires: { type: "date", required: true, ttl: true },
      addr: { type: "string" },
    },
  },
  /** Login throttling state (lib/web/auth/throttle.ts), so a restart keeps a lockout. */
  _LoginThrottle: {
    pk: "Throttle#${key}",
    fields: {
      key: { type: "string", required: true },
      failures: { type: "number", required: true },
      until: { type: "number", required: true },
      forget: { type: "date", required: true, ttl: true },
    },
  },
  _Token: {
    pk: "Token#${id}",
    fields: {
      id: { type: "string", required: true, hidden: true },
      name: { type: "string", required: true, max: 100 },
      role: { type: "string", required: true },
      prefix: { type: "string", required: true },
      lastUsed: { type: "date" },
    },
  },
} as const;

/** A user as the API shows it (no hash). */
export interface UserInfo {
  username: string;
  role: string;
  name?: string;
  disabled: boolean;
  created: string;
  lastLogin?: string;
}

export interface SessionRow {
  id: string;
  username: string;
  role: string;
  xsrf: string;
  lastSeen: number;
  started: number;
  expires: string;
}

export interface TokenInfo {
  id: string;
  name: string;
  role: string;
  prefix: string;
  created: string;
  lastUsed?: string;
}

/** SHA-256 hex of a secret (cookie value, bearer token): what the database stores. */
export async function secretId(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret));
  return new Uint8Array(digest).toHex();
}

/** Register the system models (idempotent). */
export function defineAuthModels(db: Database): void {
  for (const [name, def] of Object.entries(SYSTEM_MODELS)) {
    // deno-lint-ignore no-explicit-any
    db.define(name, structuredClone(def) as any);
  }
}

export class AuthStore {
  constructor(readonly db: Database) {
    defineAuthModels(db);
  }

  userCount(): number {
    return this.db.count("_User");
  }

  getUser(username: string): (UserInfo & { passwordHash: string }) | undefined {
    if (!USER_NAME.test(username)) return undefined;
    const it = this.db.get("_User", { username });
    return it ? toUser(it) as UserInfo & { passwordHash: string } : undefined;
  }

  listUsers(): UserInfo[] {
    const out: UserInfo[] = [];
    let next: string | undefined;
    do {
      const page = this.db.find("_User", {}, next ? { limit: 1000, next } : { limit: 1000 });
      for (const it of page.items) {
        const { passwordHash: _, ...u } = toUser(it) as UserInfo & { passwordHash: string };
        out.push(u);
      }
      next = page.next;
    } while (next);
    return out;
  }

  createUser(u: { username: string; role: string; name?: string; passwordHash: string }): UserInfo {
    const it = this.db.create("_User", { ...u, disabled: false });
    const { passwordHash: _, ...info } = toUser(it) as UserInfo & { passwordHash: string };
    return info;
  }

  updateUser(
    username: string,
    patch: Partial<
      {
        role: string;
        name: string | null;
        passwordHash: string;
        disabled: boolean;
        lastLogin: string;
      }
    >,
  ): UserInfo {
    const it = this.db.update("_User", { username }, patch);
    const { passwordHash: _, ...info } = toUser(it) as UserInfo & { passwordHash: string };
    return info;
  }

  /** The login throttle's persistence (`LoginThrottle` option `store`). */
  throttleStore(): ThrottleStore {
    return {
      load: () => {
        const out: { key: string; failures: number; until: number }[] = [];
        let next: string | undefined;
        do {
          const page = this.db.find("_LoginThrottle", {}, {
            limit: 1000,
            ...(next ? { next } : {}),
          });
          for (const i of page.items) {
            out.push({ key: String(i.key), failures: Number(i.failures), until: Number(i.until) });
          }
          next = page.next;
        } while (next);
        return out;
      },
      save: (key, failures, until, forget) => {
        this.db.put("_LoginThrottle", {
          key,
          failures,
          until,
          forget: new Date(forget).toISOString(),
        });
      },
      remove: (key) => {
        try {
          this.db.remove("_LoginThrottle", { key });
        } catch { /* already gone */ }
      },
    };
  }

  removeUser(username: string): void {
    this.db.remove("_User", { username });
    this.removeSessionsOf(username);
  }

  getSession(id: string): SessionRow | undefined {
    return this.db.get("_Session", { id }) as SessionRow | undefined;
  }

  putSession(s: SessionRow & { addr?: string }): void {
    this.db.create("_Session", { ...s });
  }

  /** Record activity; false when the session is gone (logged out elsewhere, user removed). */
  touchSession(id: string, lastSeen: number, expires: string): boolean {
    try {
      this.db.update("_Session", { id }, { lastSeen, expires });
      return true;
    } catch {
      return false;
    }
  }

  removeSession(id: string): void {
    try {
      this.db.remove("_Session", { id });
    } catch { /* already gone */ }
  }

  removeSessionsOf(username: string): number {
    const ids: string[] = [];
    let next: string | undefined;
    do {
      const page = this.db.find("_Session", {}, {
        limit: 1000,
        where: { username },
        ...(next ? { next } : {}),
      });
      for (const it of page.items) ids.push(String(it.id));
      next = page.next;
    } while (next);
    this.db.transaction(() => {
      for (const id of ids) this.removeSession(id);
    });
    return ids.length;
  }

  getToken(id: string): TokenInfo | undefined {
    return this.db.get("_Token", { id }) as TokenInfo | undefined;
  }

  putToken(t: { id: string; name: string; role: string; prefix: string }): TokenInfo {
    return this.db.create("_Token", t) as unknown as TokenInfo;
  }

  listTokens(): TokenInfo[] {
    return this.db.find("_Token", {}, { limit: 10_000 }).items as unknown as TokenInfo[];
  }

  /** Remove a token by its id or its prefix; returns how many went. */
  revokeToken(idOrPrefix: string): number {
    const hits = this.listTokens().filter((t) => t.id === idOrPrefix || t.prefix === idOrPrefix);
    for (const t of hits) this.db.remove("_Token", { id: t.id });
    return hits.length;
  }
}

function toUser(it: Record<string, unknown>): UserInfo & { passwordHash: string } {
  const u: UserInfo & { passwordHash: string } = {
    username: String(it.username),
    role: String(it.role),
    disabled: it.disabled === true,
    created: String(it.created),
    passwordHash: String(it.passwordHash),
  };
  if (typeof it.name === "string") u.name = it.name;
  if (typeof it.lastLogin === "string") u.lastLogin = it.lastLogin;
  return u;
}
