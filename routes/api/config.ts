/**
 * `GET /api/config` (admin): the effective configuration, read-only, with
 * every secret redacted as `tern check-config --json` does it: values under
 * secret-looking keys (password, token, key, secret…) and every value the
 * loader collected as a secret become "[redacted]", wherever they appear.
 */

import { collectSecrets } from "../../lib/config/mod.ts";
import { isSecretKey, REDACTED } from "../../lib/log/mod.ts";
import type { WebDeps } from "../deps.ts";

/** A deep copy of `config` with its secrets replaced by "[redacted]". */
export function redactConfig(config: unknown): unknown {
  const secrets = new Set(collectSecrets(config as Parameters<typeof collectSecrets>[0]));
  const walk = (v: unknown, key: string): unknown => {
    if (typeof v === "string") {
      if ((isSecretKey(key) && key !== "cookie") || secrets.has(v)) return REDACTED;
      let out = v;
      for (const s of secrets) if (out.includes(s)) out = out.replaceAll(s, REDACTED);
      return out;
    }
    if (Array.isArray(v)) return v.map((x) => walk(x, key));
    if (v && typeof v === "object") {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    }
    return v;
  };
  return walk(config, "");
}

export function registerConfig(d: WebDeps): void {
  d.app.get("/api/config", () => Response.json({ config: redactConfig(d.config()) }), {
    role: "admin",
  });
}
