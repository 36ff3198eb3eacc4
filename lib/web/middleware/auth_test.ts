import assert from "node:assert/strict";
import { WebApp } from "../app.ts";
import type { WebUser } from "../context.ts";
import type { Authenticator } from "./auth.ts";

/** Bearer "alice" is a user, "root" an admin; the XSRF token is "t". */
const auth = (async: boolean): Authenticator => ({
  authenticate(req) {
    const name = req.headers.get("authorization")?.slice(7);
    const user: WebUser | undefined = name === "alice"
      ? { id: "1", username: "alice", role: "user", via: "token" }
      : name === "root"
      ? { id: "2", username: "root", role: "admin", via: "session" }
      : undefined;
    return async ? Promise.resolve(user) : user;
  },
  checkXsrf: (req) => req.headers.get("x-xsrf-token") === "t",
});

for (const async of [false, true]) {
  Deno.test(`authenticate (${async ? "async" : "sync"}): 401 without a user, 403 below the role`, async () => {
    const app = new WebApp();
    app.authenticator = auth(async);
    app.get("/admin", (_r, ctx) => new Response(ctx.user!.username), { role: "admin" });
    app.get("/open", (_r, ctx) => new Response(ctx.user?.username ?? "-"), { auth: true });
    const get = (path: string, who?: string) =>
      app.request(
        new Request(`http://h${path}`, who ? { headers: { authorization: `Bearer ${who}` } } : {}),
      );
    const anon = await get("/admin");
    assert.equal(anon.status, 401);
    assert.equal(anon.headers.get("www-authenticate"), 'Bearer realm="tern"');
    const user = await get("/admin", "alice");
    assert.equal(user.status, 403);
    assert.match((await user.json()).error.message, /"admin" role/);
    assert.equal(await (await get("/admin", "root")).text(), "root");
    assert.equal(await (await get("/open")).text(), "-", "public: anyone");
    assert.equal(await (await get("/open", "alice")).text(), "alice", "the caller is still known");
  });
}

Deno.test("xsrf: a session's state-changing request needs its token; a token's does not", async () => {
  const app = new WebApp();
  app.authenticator = auth(false);
  app.post("/w", () => new Response("done"), { role: "user" });
  app.get("/r", () => new Response("read"), { role: "user" });
  const req = (method: string, path: string, headers: Record<string, string>) =>
    app.request(new Request(`http://h${path}`, { method, headers }));
  const session = { authorization: "Bearer root" }; // via: "session"
  const refused = await req("POST", "/w", session);
  assert.equal(refused.status, 403);
  assert.equal((await refused.json()).error.code, "xsrf");
  assert.equal((await req("POST", "/w", { ...session, "x-xsrf-token": "t" })).status, 200);
  assert.equal((await req("GET", "/r", session)).status, 200, "a read needs none");
  assert.equal(
    (await req("POST", "/w", { authorization: "Bearer alice" })).status,
    200,
    "a bearer token needs none",
  );
});
