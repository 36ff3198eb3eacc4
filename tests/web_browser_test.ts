/**
 * The dashboard in a real browser: Debian's chromium driven by
 * playwright-core loads the page from a real server, logs in, and sees the
 * device's status and data. Skips with a message when chromium is absent
 * (`.ci/run` installs it).
 */

import assert from "node:assert/strict";
import { systemClock } from "../lib/clock.ts";
import { configSchema } from "../lib/config/mod.ts";
import { Database } from "../lib/db/mod.ts";
import { nullLogger } from "../lib/log/mod.ts";
import { AuthStore, hashPassword, WebServer } from "../lib/web/mod.ts";
import { buildApp } from "../routes/web_service.ts";
import { READING } from "./helpers/reading.ts";
import { PEERS, skipWithout } from "./helpers/peers.ts";

const ignore = skipWithout("chromium", import.meta.url);

Deno.test({
  name: "dashboard: log in with a browser and see status and device data",
  ignore,
  // playwright-core keeps internal timers and pipes past browser.close().
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { chromium } = await import("playwright-core");
    const dir = await Deno.makeTempDir();
    const config = configSchema.parse({
      web: {
        auth: { iterations: 10_000 },
        api: { models: { Reading: { read: "user", write: "admin" } } },
      },
      schema: {
        models: { Reading: READING },
      },
    });
    const db = Database.open({
      path: `${dir}/tern.db`,
      schema: config.schema.models,
      clock: systemClock,
      purgeInterval: 0,
    });
    const store = new AuthStore(db);
    store.createUser({
      username: "owner",
      role: "admin",
      passwordHash: await hashPassword("owner-password", 10_000),
    });
    db.create("Reading", { sensor: "boiler", time: "2026-01-01T00:00:00Z", value: 71.5 });
    const { app, deps } = buildApp(config, {
      log: nullLogger,
      clock: systemClock,
      db,
      status: {
        services: () => [{ name: "database", state: "running", since: 0, restarts: 0 }],
      },
    });
    await deps.site?.ready;
    const server = await WebServer.start(app, { listen: ["http://127.0.0.1:0"], log: nullLogger });
    const browser = await chromium.launch({
      executablePath: PEERS.chromium.path(),
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      // launch() gives every run a fresh temporary --user-data-dir of its own.
      timeout: 30_000,
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      await page.goto(server.endpoints[0]!.url + "/", { timeout: 15_000 });
      await page.waitForSelector("#login-form", { state: "visible", timeout: 10_000 });
      await page.fill("#login-form input[name=username]", "owner");
      await page.fill("#login-form input[name=password]", "owner-password");
      await page.click("#login-form button[type=submit]");
      await page.waitForSelector("table.items td", { timeout: 10_000 });
      assert.match(await page.textContent("#who") ?? "", /owner \(admin\)/);
      assert.match(await page.textContent("#services") ?? "", /database\s*running/);
      const data = await page.textContent("table.items") ?? "";
      assert.match(data, /boiler/);
      assert.match(data, /71\.5/);
      const cookies = await page.context().cookies();
      const session = cookies.find((c) => c.name === "tern_session");
      assert.ok(session?.httpOnly, "session cookie is HttpOnly");
      assert.equal(session?.sameSite, "Strict");
      // Log out: back to the login form, session gone.
      await page.click("#logout");
      await page.waitForSelector("#login-form", { state: "visible", timeout: 10_000 });
      assert.deepEqual(
        errors.filter((e) => !/401/.test(e)),
        [],
        `no CSP or script errors: ${errors.join(" / ")}`,
      );
    } finally {
      await browser.close();
      await server.close();
      db.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
