/**
 * `/api/data`: generic CRUD over the database models that `web.api.models`
 * exposes, each with the role it needs to read and to write. Hidden fields
 * are never returned. Each item carries `_key`, an opaque id (base64url of
 * its raw key) for the item routes.
 *
 * - `GET /api/data` → the exposed models the caller may read, with their fields
 * - `GET /api/data/:model?deviceId=d1&limit=50&next=…&reverse=1` → `{items, next?}`;
 *   key fields in the query narrow it (the database's key query), `next` pages
 * - `POST /api/data/:model` → 201 `{item}`; invalid fields → 400 with `fields` listing each
 * - `GET|PATCH|DELETE /api/data/:model/:key` → `{item}` / 204; `If-Match: <_version>` makes
 *   PATCH and DELETE conditional (409 on a mismatch)
 */

import { checkValue } from "../../lib/config/mod.ts";
import type { Database, Item, Model } from "../../lib/db/mod.ts";
import { ItemCache } from "./_item_cache.ts";
import {
  type FieldProblem,
  forbidden,
  HttpError,
  notFound,
  utf8,
  utf8Strict,
  type WebContext,
} from "../../lib/web/mod.ts";
import type { WebDeps } from "../deps.ts";
import { auditor } from "./_audit.ts";

const META = new Set(["created", "updated", "_version"]);

/** The init of a JSON answer: the runtime keeps a lone JSON content type in a fast slot. */
const JSON_TYPE = { headers: { "content-type": "application/json" } };

/**
 * What `Response.json` answers, from JSON already serialized (a string body:
 * Deno sends those on a faster path than bytes). Like every answer to a
 * logged-in call, the app marks it `no-store`.
 */
function jsonText(body: string): Response {
  return new Response(body, JSON_TYPE);
}

function encodeKey(pk: string, sk: string): string {
  return utf8.encode(JSON.stringify([pk, sk]))
    .toBase64({ alphabet: "base64url", omitPadding: true });
}

function decodeKey(s: string): { pk: string; sk: string } {
  try {
    const bytes = Uint8Array.fromBase64(s, { alphabet: "base64url" });
    const [pk, sk] = JSON.parse(utf8Strict.decode(bytes));
    if (typeof pk === "string" && typeof sk === "string") return { pk, sk };
  } catch { /* fall through */ }
  throw new HttpError(400, "bad_key", "Malformed item key");
}

/** Every problem of an item or patch against the model, not just the first. */
function problems(
  db: Database,
  model: string,
  input: unknown,
  mode: "create" | "patch",
): FieldProblem[] {
  const m = db.model(model);
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return [{ path: "", message: "Expected a JSON object" }];
  }
  const src = input as Record<string, unknown>;
  const out: FieldProblem[] = [];
  for (const k of Object.keys(src)) {
    if (!(k in m.def.fields)) out.push({ path: k, message: `Unknown field "${k}"` });
  }
  for (const [name, f] of Object.entries(m.def.fields)) {
    const v = src[name];
    if (v === undefined || v === null) {
      if (mode === "create" && f.required && f.default === undefined && !f.generate) {
        out.push({ path: name, message: "Required" });
      }
      continue;
    }
    const p = checkValue(f, v);
    if (p) out.push({ path: name, message: `Expected ${p}` });
  }
  return out;
}

export function registerData(d: WebDeps): void {
  const { app, db } = d;
  if (!db) return;
  const record = auditor(d);
  /** Whether writes to `m` are audit events (`audit: true` on the model, or `audit.models`). */
  const audited = (m: Model) => m.def.audit === true || d.config().audit.models.includes(m.name);
  /** Run `write` and, for an audited model, record it in the same transaction. */
  const write = <T extends Item | undefined>(
    ctx: WebContext,
    m: Model,
    action: "create" | "update" | "delete",
    fn: () => T,
    details?: Record<string, unknown>,
  ): T => {
    if (!audited(m)) return fn();
    return db.transaction(() => {
      const it = fn();
      const k = it ? db.keyOf(m.name, it) : decodeKey(ctx.params.key!);
      record(ctx, {
        action: `data.${action}`,
        target: `model:${m.name}/${encodeKey(k.pk, k.sk)}`,
        ...(details ? { details } : {}),
      });
      return it;
    });
  };
  type Rule = { read: string; write: string };
  /**
   * The exposed models of the current config, as a Map (own names only), rebuilt when a reload
   * brings a new config (compared by identity: the nested config objects are not read per request).
   */
  let rules: { of: unknown; map: Map<string, Rule> } = { of: undefined, map: new Map() };
  const exposed = (): Map<string, Rule> => {
    const config = d.config();
    if (rules.of !== config) {
      rules = { of: config, map: new Map(Object.entries(config.web.api.models)) };
    }
    return rules.map;
  };

  /** The model of `ctx.params.model` when the caller may read (or write) it; 404, 401 or 403. */
  const access = (ctx: WebContext, write: boolean): Model => {
    const name = ctx.params.model!;
    const rule = exposed().get(name);
    if (!rule || name.startsWith("_")) throw notFound(`No model "${name}" in the API`);
    const need = write ? rule.write : rule.read;
    if (!app.roles.allows(ctx.user?.role, need)) {
      if (!ctx.user) throw new HttpError(401, "unauthorized", "Login required");
      throw forbidden(`This needs the "${need}" role`);
    }
    return db.model(name); // unknown_model → 404 when the config names a model the schema lacks
  };

  const shape = (model: string, it: Item, key?: string): Record<string, unknown> => {
    const m = db.model(model);
    const out: Record<string, unknown> = {};
    for (const k in it) if (!m.hidden.includes(k)) out[k] = it[k];
    if (key === undefined) {
      const k = db.keyOf(model, it);
      key = encodeKey(k.pk, k.sk);
    }
    out._key = key;
    return out;
  };

  const ifMatch = (req: Request): number | undefined => {
    const h = req.headers.get("if-match");
    if (h === null) return undefined;
    const n = Number(h.replace(/"/g, ""));
    if (!Number.isInteger(n) || n < 1) {
      throw new HttpError(400, "bad_if_match", "If-Match must be the item's _version");
    }
    return n;
  };

  app.get("/api/data", (_req, ctx) => {
    const models = [...exposed()]
      .filter(([n, r]) => !n.startsWith("_") && app.roles.allows(ctx.user?.role, r.read))
      .flatMap(([n, r]) => {
        try {
          const m = db.model(n);
          const fields = Object.fromEntries(
            Object.entries(m.def.fields).filter(([f]) => !m.hidden.includes(f))
              .map(([f, def]) => [f, { type: def.type, required: def.required ?? false }]),
          );
          return [{ name: n, read: r.read, write: r.write, pk: m.def.pk, sk: m.def.sk, fields }];
        } catch {
          return [];
        }
      });
    return Response.json({ models });
  }, { auth: true });

  app.get("/api/data/:model", (_req, ctx) => {
    const m = access(ctx, false);
    const model = m.name;
    const q = ctx.url.searchParams;
    const query: Record<string, unknown> = {};
    for (const [k, v] of q) {
      if (k === "limit" || k === "next" || k === "reverse") continue;
      const f = m.def.fields[k];
      if (!f || m.hidden.includes(k)) {
        throw new HttpError(400, "bad_query", `Unknown query field "${k}"`);
      }
      query[k] = f.type === "number" ? Number(v) : f.type === "boolean" ? v === "true" : v;
    }
    const limit = q.has("limit") ? Number(q.get("limit")) : 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new HttpError(400, "bad_query", "limit must be 1 to 1000");
    }
    const page = db.find(model, query, {
      limit,
      reverse: q.get("reverse") === "1" || q.get("reverse") === "true",
      ...(q.get("next") ? { next: q.get("next")! } : {}),
    });
    const body: Record<string, unknown> = { items: page.items.map((it) => shape(model, it)) };
    if (page.next) body.next = page.next;
    return Response.json(body);
  }, { auth: true });

  app.post("/api/data/:model", async (_req, ctx) => {
    const m = access(ctx, true);
    const model = m.name;
    const input = await ctx.json();
    const bad = problems(db, model, input, "create");
    if (bad.length) {
      throw new HttpError(400, "invalid", `Invalid ${model}`, { fields: bad });
    }
    const it = write(ctx, m, "create", () => db.create(model, input as Record<string, unknown>), {
      fields: Object.keys(input as object),
    });
    return Response.json({ item: shape(model, it) }, { status: 201 });
  }, { auth: true });

  const cache = new ItemCache(db, encodeKey, { clock: d.clock });
  d.closers?.push(() => cache.close());
  // A logged-in caller's answer carries everything the security headers would add to it (no-store,
  // nosniff under scope "all"): built once per cached item and cloned, it is marked complete.
  const privateInit = {
    headers: [["content-type", "application/json"], ...app.securityHeaders.dataHeaders(true)],
  };
  app.get("/api/data/:model/:key", (_req, ctx) => {
    const m = access(ctx, false);
    const model = m.name;
    const raw = ctx.params.key!;
    const hit = cache.get(model, raw, m, ctx.now);
    if (hit !== undefined) {
      if (ctx.user === undefined) return jsonText(hit.body);
      ctx.secured = true;
      return (hit.answer ??= new Response(hit.body, privateInit)).clone();
    }
    const k = decodeKey(raw);
    const it = db.get(model, k);
    if (!it) throw notFound(`No such ${model}`);
    const body = JSON.stringify({ item: shape(model, it, raw) });
    if (raw === encodeKey(k.pk, k.sk)) cache.put(model, raw, m, body);
    return jsonText(body);
  }, { auth: true });

  app.route("PATCH", "/api/data/:model/:key", async (req, ctx) => {
    const m = access(ctx, true);
    const model = m.name;
    const patch = await ctx.json();
    const bad = problems(db, model, patch, "patch").filter((p) => !META.has(p.path));
    if (bad.length) throw new HttpError(400, "invalid", `Invalid ${model}`, { fields: bad });
    const v = ifMatch(req);
    const it = write(ctx, m, "update", () =>
      db.update(
        model,
        decodeKey(ctx.params.key!),
        patch as Record<string, unknown>,
        v === undefined ? {} : { ifVersion: v },
      ), { fields: Object.keys(patch as object) });
    return Response.json({ item: shape(model, it) });
  }, { auth: true });

  app.route("DELETE", "/api/data/:model/:key", (req, ctx) => {
    const m = access(ctx, true);
    const v = ifMatch(req);
    write(ctx, m, "delete", () => {
      db.remove(m.name, decodeKey(ctx.params.key!), v === undefined ? {} : { ifVersion: v });
      return undefined;
    });
    return new Response(null, { status: 204 });
  }, { auth: true });
}
