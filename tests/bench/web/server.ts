/**
 * A server process for the web benchmark.
 * - `bare PORT`: `Deno.serve` answering a fixed body, nothing else: 12 bytes,
 *   or 1 KB / 64 KB bytes at `/1k` and `/64k` (the same sizes as Tern's static cases);
 *   at `/json`, the minimum of an authenticated JSON answer (cookie read, content type
 *   and no-store), as a reference for the API row.
 * - `tern PORT [default|serve|strict]`: the real agent (database + web services, default local
 *   config) with a device action `GET /action`, an exposed model holding one
 *   item, an admin logged in, and two extra static files of 1 KB and 64 KB
 *   in the in-memory site. Prints one JSON line `{cookie, item}` when ready.
 *   Two more routes split the API row into layers (compare them with ab.ts `--a`/`--b`):
 *   `/layer/json` answers the reference's JSON with `no-store` through Tern's pipeline, no
 *   session; `/layer/session` the same behind the session check (role "user").
 */

import { Agent } from "../../../lib/agent.ts";
import { settleHeap, settleWhenIdle } from "../../../lib/cli/mod.ts";
import { loadConfig } from "../../../lib/config/mod.ts";
import type { DatabaseService } from "../../../lib/db/mod.ts";
import { prepareFile, responseList } from "../../../lib/web/mod.ts";
import type { WebService } from "../../../routes/web_service.ts";
import { SERVICES } from "../../../services.ts";
import { READING } from "../../helpers/reading.ts";

/** "default" (default config), "serve" (web.engine serve), "strict" (headerSize 16384, nosniff on every response). */
const [mode, portArg, variant = "default"] = Deno.args;
const port = Number(portArg);
const BODY = "hello world\n";
/** As long as the API row's answer (one Reading item with its metadata). */
const ITEM_JSON = JSON.stringify({
  item: {
    sensor: "s1",
    time: "2026-01-01T00:00:00.000Z",
    value: 21.5,
    created: "2026-11-26T01:25:44.240Z",
    updated: "2026-11-26T01:25:44.240Z",
    _version: 1,
    _key: "WyJTZW5zb3IjczEiLCJSZWFkaW5nIzIwMjYtMDEtMDFUMDA6MDA6MDAuMDAwWiJd",
  },
});

/** Deno's slot holding a served request's runtime side (see lib/web/context.ts). */
const REQUEST = Object.getOwnPropertySymbols(new Request("http://x/")).find((s) =>
  s.description === "request"
)!;
const JSON_TYPE = { headers: { "content-type": "application/json" } };

/** The API row's answer built the cheapest way: a lone JSON type in the init, `no-store` added to its list. */
function privateJson(): Response {
  const res = new Response(ITEM_JSON, JSON_TYPE);
  responseList(res, ["cache-control", "no-store"]);
  return res;
}

if (mode === "bare") {
  const k1 = crypto.getRandomValues(new Uint8Array(1024));
  const k64 = crypto.getRandomValues(new Uint8Array(65536));
  Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, (req) => {
    const u = req.url;
    if (u.endsWith("/1k")) return new Response(k1);
    if (u.endsWith("/64k")) return new Response(k64);
    if (u.endsWith("/json")) {
      // The least an authenticated JSON answer costs on this runtime: read the cookie (one
      // header from the runtime, without exposing the others), send a JSON body of the API
      // row's size with its content type and no-store (two headers), both the cheapest way.
      const inner = (req as unknown as Record<symbol, { header(n: string): string | null }>)[
        REQUEST
      ];
      if (inner!.header("cookie") === null) return new Response(null, { status: 401 });
      return privateJson();
    }
    return new Response(BODY);
  });
  console.log(JSON.stringify({ ready: true }));
} else {
  const dir = await Deno.makeTempDir({ prefix: "tern-bench-" });
  await Deno.writeTextFile(
    `${dir}/tern.json5`,
    JSON.stringify({
      agent: { state: `${dir}/state` },
      log: { level: "warn" },
      web: {
        listen: [`http://127.0.0.1:${port}`],
        ...(variant === "serve" ? { engine: "serve" } : {}),
        ...(variant === "strict" ? { limits: { headerSize: 16384 }, securityHeaders: "all" } : {}),
        auth: { iterations: 10_000 },
        api: { models: { Reading: { read: "user", write: "admin" } } },
      },
    }),
  );
  await Deno.writeTextFile(
    `${dir}/schema.json5`,
    JSON.stringify({
      models: { Reading: READING },
    }),
  );
  const loaded = loadConfig({ dir });
  const agent = await Agent.start({ loaded, factories: SERVICES });
  const web = agent.get<WebService>("web");
  web.route("GET", "/action", () => new Response(BODY));
  web.route("GET", "/layer/json", privateJson);
  // The app adds no-store itself to an authenticated answer.
  web.route("GET", "/layer/session", () => new Response(ITEM_JSON, JSON_TYPE), { role: "user" });
  const db = agent.get<DatabaseService>("database").db;
  db.create("Reading", { sensor: "s1", time: "2026-01-01T00:00:00Z", value: 21.5 });
  const site = web.deps.site!;
  const bytes = (n: number) => crypto.getRandomValues(new Uint8Array(n));
  site.files.set("/bench-1k.bin", await prepareFile("/bench-1k.bin", bytes(1024), Date.now()));
  site.files.set("/bench-64k.bin", await prepareFile("/bench-64k.bin", bytes(65536), Date.now()));
  // Log in through the app itself, not with fetch: an HTTP client in this process would add
  // its own code and buffers to the agent's RSS (a local-mode agent has no client running).
  const base = `http://127.0.0.1:${port}`;
  const setup = await web.app.request(
    new Request(`${base}/api/auth/setup`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        token: web.deps.setup.token,
        username: "admin",
        password: "bench-password",
      }),
    }),
  );
  const cookie = setup.headers.get("set-cookie")!.split(";")[0]!;
  await setup.body?.cancel();
  const list = await (await web.app.request(
    new Request(`${base}/api/data/Reading?sensor=s1`, { headers: { cookie } }),
  )).json();
  // As `tern run` does after start (needs --v8-flags=--expose-gc, which run.ts passes).
  settleHeap();
  const settling = new AbortController();
  void settleWhenIdle({ signal: settling.signal });
  console.log(JSON.stringify({ ready: true, cookie, item: list.items[0]._key }));
  Deno.addSignalListener("SIGTERM", async () => {
    settling.abort();
    await agent.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    Deno.exit(0);
  });
}
