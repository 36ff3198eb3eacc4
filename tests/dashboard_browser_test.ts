/**
 * The dashboard in a real browser: Debian's chromium driven by
 * playwright-core against a running agent: database, audit, web on a
 * loopback port, MQTT to an in-process aedes broker, sync to dynalite, a
 * shadow kept in its local copy (nothing answers its topics on aedes) and
 * CloudWatch metrics collecting the OS while CloudWatch is unreachable. First-run setup, every
 * page rendering the agent's real data, live logs and metrics over SSE (and
 * no polling), an item edit that reaches SQLite, per-field validation
 * errors, export and log download, a `user` kept from admin pages (and the
 * API refusing them), XSRF enforced, no console errors, no request leaving
 * the device, and the transfer budget (≤ 150 KB compressed). A screenshot of
 * each page at phone and desktop width goes to tests/out/dashboard/ and is
 * checked for content; `TERN_SCREENSHOTS=1` also refreshes docs/img/.
 * Skips with a message when chromium is absent (`deno task peers`).
 */

import assert from "node:assert/strict";
import { Agent } from "../lib/agent.ts";
import { configSchema } from "../lib/config/mod.ts";
import type { DatabaseService } from "../lib/db/mod.ts";
import { LogHub, RingSink } from "../lib/log/mod.ts";
import { freePort } from "../deploy/free_port.ts";
import { SERVICES } from "../services.ts";
import type { WebService } from "../routes/web_service.ts";
import { startAedes } from "./helpers/aedes.ts";
import { TABLE, TEST_CREDENTIALS } from "./sync_helpers.ts";
import { syncCloud } from "./sync_setup.ts";
import { READING } from "./helpers/reading.ts";
import { PEERS, skipWithout } from "./helpers/peers.ts";

// The page functions below run in the browser, where `document` exists.
// deno-lint-ignore no-explicit-any
declare const document: any, getComputedStyle: any;

const ignore = skipWithout("chromium", import.meta.url);
const OUT = new URL("./out/dashboard/", import.meta.url).pathname;
const IMG = new URL("../docs/img/", import.meta.url).pathname;
const PW = "admin-password-1";
const VIEWER_PW = "viewer-password-1";
const MQTT_SECRET = "mqtt-secret-do-not-show";
const BUDGET = 150 * 1024;
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 860 };
/** The pictures of docs/img/ (README), refreshed with TERN_SCREENSHOTS=1: small on purpose. */
const DOC_SHOTS: Record<string, { width: number; height: number }> = {
  overview: { width: 1000, height: 620 },
  data: { width: 1000, height: 620 },
  metrics: { width: 390, height: 700 },
};

Deno.test({
  name: "dashboard: setup, every page with live data, edits to SQLite, roles and XSRF in chromium",
  ignore,
  // playwright-core keeps internal timers and pipes past browser.close().
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { chromium } = await import("playwright-core");
    await Deno.mkdir(OUT, { recursive: true });
    await using cloud = await syncCloud();
    const dir = cloud.dir;
    await using broker = await startAedes();
    const port = await freePort();
    // CloudWatch is unreachable here (offline is normal): its stream backs up in the spool.
    const offline = `http://127.0.0.1:${await freePort()}`;
    const config = configSchema.parse({
      device: { id: "pump-station-7" },
      log: { level: "info" },
      web: {
        listen: [`http://127.0.0.1:${port}`],
        auth: { iterations: 10_000 },
        api: { models: { Reading: { read: "user", write: "admin" } } },
      },
      mqtt: { enabled: true, url: broker.url, username: "dev", password: MQTT_SECRET },
      aws: { region: "eu-west-1", credentials: TEST_CREDENTIALS },
      sync: { enabled: true, endpoint: cloud.ddb.endpoint, table: TABLE },
      cloud: {
        // No shadow service answers on aedes: the shadow lives in its local copy (offline).
        shadow: {
          enabled: true,
          shadows: { thermostat: { model: { name: "Thermostat", key: { id: "main" } } } },
        },
        metrics: {
          enabled: true,
          via: "putMetricData",
          endpoint: offline,
          interval: 1000,
          backoff: { min: 60_000, max: 60_000 },
        },
      },
      schema: {
        models: {
          Reading: { ...READING, sync: "up" },
          Thermostat: {
            pk: "T#${id}",
            fields: {
              id: { type: "string", required: true },
              setpoint: { type: "number" },
              temperature: { type: "number" },
            },
          },
        },
      },
    });
    const ring = new RingSink(1000);
    const hub = new LogHub({ sinks: [ring], level: "info" });
    hub.redactor.add(MQTT_SECRET);
    const agent = await Agent.start({
      loaded: { config, configDir: dir, stateDir: dir, files: [], secrets: [MQTT_SECRET] },
      factories: SERVICES,
      hub,
      ring,
    });
    const base = `http://127.0.0.1:${port}`;
    const web = agent.get<WebService>("web");
    const db = agent.get<DatabaseService>("database").db;
    for (let i = 0; i < 30; i++) {
      db.create("Reading", {
        sensor: "boiler",
        time: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
        value: 60 + i / 2,
      });
    }
    const token = web.deps.setup.token!;
    assert.ok(token, "first run: a setup token");
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
      timeout: 30_000,
    });
    const errors: string[] = [];
    const foreign: string[] = [];
    const shots: string[] = [];
    try {
      const ctx = await browser.newContext({ viewport: DESKTOP, acceptDownloads: true });
      const page = await ctx.newPage();
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      page.on("pageerror", (e) => errors.push(String(e)));
      const assets: import("playwright-core").Request[] = [];
      const apiCalls: string[] = [];
      page.on("request", (r) => {
        const u = r.url();
        if (!u.startsWith(base) && !u.startsWith("blob:") && !u.startsWith("data:")) {
          foreign.push(u);
        }
        if (u.startsWith(base + "/api/")) apiCalls.push(new URL(u).pathname);
        else if (u.startsWith(base)) assets.push(r);
      });
      const shoot = async (name: string) => {
        for (const [label, size] of [["desktop", DESKTOP], ["phone", PHONE]] as const) {
          await page.setViewportSize(size);
          await page.waitForTimeout(150);
          const png = await page.screenshot({
            path: `${OUT}${name}-${label}.png`,
            fullPage: false,
          });
          // A blank page is a few KB of one colour; a rendered page has text and lines.
          assert.ok(png.length > 8_000, `${name} at ${label} width has content (${png.length} B)`);
          const shown = await page.evaluate(() =>
            document.getElementById("view")!.innerText.length
          );
          assert.ok(shown > 20, `${name} at ${label} shows text`);
          shots.push(`${name}-${label}`);
        }
        const doc = DOC_SHOTS[name];
        if (doc && Deno.env.get("TERN_SCREENSHOTS") === "1") {
          await Deno.mkdir(IMG, { recursive: true });
          await page.setViewportSize(doc);
          await page.waitForTimeout(150);
          await page.screenshot({ path: `${IMG}dashboard-${name}.png` });
        }
        await page.setViewportSize(DESKTOP);
      };

      // First-run setup creates the admin and lands on the Overview.
      const doc = await page.goto(base + "/", { timeout: 15_000 });
      assert.match(
        doc!.headers()["content-security-policy"]!,
        /^default-src 'self';/,
        "strict CSP",
      );
      await page.waitForSelector("#setup-form", { state: "visible", timeout: 10_000 });
      await shoot("setup");
      await page.fill("#setup-form input[name=token]", token);
      await page.fill("#setup-form input[name=password]", PW);
      await page.click("#setup-form button[type=submit]");
      await page.waitForSelector("#services", { timeout: 10_000 });
      assert.equal(db.find("_User", {}, { limit: 10 }).items.length, 1, "admin row in SQLite");

      // Overview: identity, version, services, the live MQTT connection.
      await page.waitForFunction(
        () =>
          /connected/.test(document.getElementById("overview")!.innerText) &&
          !/disconnected/.test(document.getElementById("overview")!.innerText),
        null,
        { timeout: 10_000 },
      );
      const overview = await page.innerText("#overview");
      assert.match(overview, /pump-station-7/);
      assert.match(overview, /Tern \d+\.\d+\.\d+/);
      assert.match(overview, /mqtt\s+running/);
      assert.match(overview, /database\s+running/);
      assert.match(overview, new RegExp(broker.url.replace(/[.]/g, "\\.")));
      assert.match(await page.innerText("#sync-models"), /Reading\s+up/);
      await page.waitForSelector("#spool", { timeout: 10_000 });
      assert.match(await page.innerText("#spool"), /metrics/);
      assert.equal(await page.getAttribute("#live", "class"), "live on");
      // Live: the status event arrives every 2 s without the page asking.
      const stamp = await page.innerText("#overview p.small");
      const before = apiCalls.length;
      await page.waitForFunction(
        (s) => document.querySelector("#overview p.small")?.textContent !== s,
        stamp,
        { timeout: 6_000 },
      );
      assert.deepEqual(apiCalls.slice(before), [], "no polling: updates come over /api/events");
      await shoot("overview");
      // Dark mode follows the system, and the header toggle overrides it.
      await page.emulateMedia({ colorScheme: "dark" });
      const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert.equal(await bg(), "rgb(15, 20, 27)");
      await shoot("overview-dark");
      await page.click("#theme");
      assert.equal(await bg(), "rgb(245, 246, 248)", "the toggle switches to light");
      await page.click("#theme");
      await page.emulateMedia({ colorScheme: "light" });
      assert.equal(await bg(), "rgb(15, 20, 27)", "the choice is kept over the system's");
      await page.evaluate(() => localStorage.removeItem("tern-theme"));
      await page.evaluate(() => delete document.documentElement.dataset.theme);

      // Budget: everything the first load transferred (compressed), all from the device.
      let transfer = 0;
      for (const r of assets) {
        const resp = await r.response();
        const enc = resp?.headers()["content-encoding"];
        const sizes = await r.sizes();
        transfer += sizes.responseBodySize + sizes.responseHeadersSize;
        if (/\.(js|css|html)$|\/$/.test(r.url())) {
          assert.ok(enc === "br" || enc === "gzip", `${r.url()} compressed`);
        }
      }
      assert.ok(transfer > 5_000 && transfer <= BUDGET, `site transfer ${transfer} B ≤ ${BUDGET}`);
      console.log(`first load: ${assets.length} files, ${transfer} B with headers`);

      // Logs: the ring live over SSE; filter, pause, download.
      await page.click("nav a[data-page=logs]");
      await page.waitForSelector("#log-table tbody tr", { timeout: 10_000 });
      await fetch(base + "/api/auth/login", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "ghost-user-17", password: "wrong-password" }),
      }).then((r) => r.body?.cancel());
      await page.waitForFunction(
        () => /ghost-user-17/.test(document.getElementById("log-table")!.innerText),
        null,
        { timeout: 6_000 },
      );
      await page.selectOption("#log-level", "error");
      assert.doesNotMatch(
        await page.innerText("#log-table"),
        /ghost-user-17/,
        "level filter hides warnings",
      );
      await page.selectOption("#log-level", "debug");
      await page.fill("#log-source", "mqtt");
      assert.doesNotMatch(await page.innerText("#log-table"), /ghost-user-17/, "source filter");
      await page.fill("#log-source", "");
      await page.click("#log-pause");
      agent.log.warn("paused-line-42");
      await page.waitForFunction(
        () => /new while paused/.test(document.getElementById("log-count")!.textContent!),
        null,
        { timeout: 6_000 },
      );
      assert.doesNotMatch(await page.innerText("#log-table"), /paused-line-42/);
      await page.click("#log-pause");
      assert.match(await page.innerText("#log-table"), /paused-line-42/);
      const [logFile] = await Promise.all([
        page.waitForEvent("download"),
        page.click("#log-download"),
      ]);
      const lines = (await Deno.readTextFile((await logFile.path())!)).trim().split("\n").map((l) =>
        JSON.parse(l)
      );
      assert.ok(lines.some((l) => l.msg === "paused-line-42"), "download has the records");
      assert.ok(!JSON.stringify(lines).includes(MQTT_SECRET), "no secret in the logs");
      await shoot("logs");

      // Metrics: the last hour at once, then a new sample arrives live.
      await page.click("nav a[data-page=metrics]");
      await page.waitForSelector("#chart-rss path.line", { timeout: 10_000 });
      const samples = async () =>
        Number((await page.innerText("#metrics-note")).match(/^(\d+) sample/)![1]);
      const n0 = await samples();
      assert.ok(n0 >= 1);
      await page.waitForFunction(
        (n) =>
          Number(document.getElementById("metrics-note")!.textContent!.match(/^(\d+)/)![1]) > n,
        n0,
        { timeout: 12_000 },
      );
      for (const c of ["rss", "requests", "queue"]) {
        assert.ok(await page.$(`#chart-${c} path.line`), `${c} chart drawn`);
      }
      await shoot("metrics");

      // Data: paging, edit round-trips to SQLite, per-field errors, create, delete, export.
      await page.click("nav a[data-page=data]");
      await page.waitForSelector("table.items tbody tr", { timeout: 10_000 });
      assert.equal(await page.locator("table.items tbody tr").count(), 25);
      await page.click("text=Next ›");
      await page.waitForFunction(() =>
        document.querySelectorAll("table.items tbody tr").length === 5
      );
      await page.click("text=‹ Previous");
      await page.waitForFunction(() =>
        document.querySelectorAll("table.items tbody tr").length === 25
      );
      await shoot("data");
      await page.locator("table.items tbody tr").first().locator("button").click();
      await page.waitForSelector("dialog form");
      await page.fill("dialog input[name=value]", "99.5");
      await page.click("dialog button[type=submit]");
      await page.waitForSelector("dialog", { state: "detached" });
      const edited = db.get("Reading", { sensor: "boiler", time: "2026-01-01T00:00:00.000Z" });
      assert.equal(edited?.value, 99.5, "the edit reached SQLite");
      await page.waitForFunction(() =>
        /99\.5/.test(document.querySelector("table.items")!.textContent!)
      );
      // New item: the API's per-field problems appear beside each field.
      await page.click("#new-item");
      await page.fill("dialog input[name=time]", "yesterday");
      await page.click("dialog button[type=submit]");
      await page.waitForFunction(() =>
        document.querySelectorAll("dialog .field-error:not(:empty)").length >= 2
      );
      const fieldErrors = await page.$$eval(
        "dialog .field",
        (els) => els.map((e) => e.textContent),
      );
      assert.ok(fieldErrors.some((t) => /sensor.*Required/s.test(t!)), fieldErrors.join(" | "));
      assert.ok(fieldErrors.some((t) => /time.*ISO 8601/s.test(t!)), fieldErrors.join(" | "));
      await shoot("data-errors");
      await page.fill("dialog input[name=sensor]", "tank");
      await page.fill("dialog input[name=time]", "2026-02-01T00:00:00Z");
      await page.fill("dialog input[name=value]", "3");
      await page.click("dialog button[type=submit]");
      await page.waitForSelector("dialog", { state: "detached" });
      assert.equal(db.get("Reading", { sensor: "tank", time: "2026-02-01T00:00:00Z" })?.value, 3);
      // Filter by key, then delete it.
      await page.fill("input[name=sensor]", "tank");
      await page.click("text=Filter");
      await page.waitForFunction(() =>
        document.querySelectorAll("table.items tbody tr").length === 1
      );
      page.once("dialog", (d) => d.accept());
      await page.locator("table.items tbody tr button").click();
      await page.click("dialog button.danger");
      await page.waitForFunction(() =>
        /No items match/.test(document.getElementById("data-status")!.textContent!)
      );
      assert.equal(db.get("Reading", { sensor: "tank", time: "2026-02-01T00:00:00Z" }), undefined);
      await page.fill("input[name=sensor]", "");
      const [exp] = await Promise.all([page.waitForEvent("download"), page.click("#export")]);
      const exported = JSON.parse(await Deno.readTextFile((await exp.path())!));
      assert.equal(exported.length, 30);

      // Users and tokens (admin), audit, config with secrets redacted, shadow.
      await page.click("nav a[data-page=users]");
      await page.click("#new-user");
      await page.fill("dialog input[name=username]", "viewer");
      await page.fill("dialog input[name=password]", "short");
      await page.click("dialog button[type=submit]");
      await page.waitForFunction(() =>
        /at least 8/.test(document.querySelector("dialog")!.textContent!)
      );
      await page.fill("dialog input[name=password]", VIEWER_PW);
      await page.click("dialog button[type=submit]");
      await page.waitForFunction(() =>
        /viewer/.test(document.getElementById("user-table")?.textContent ?? "")
      );
      assert.equal(db.get("_User", { username: "viewer" })?.role, "user");
      await shoot("users");
      await page.click("nav a[data-page=tokens]");
      await page.click("#new-token-btn");
      await page.fill("dialog input[name=name]", "backup-script");
      await page.click("dialog button[type=submit]");
      const secret = await page.innerText("#new-token");
      assert.match(secret, /^tern_/);
      const me = await fetch(base + "/api/auth/me", {
        headers: { authorization: `Bearer ${secret}` },
      });
      assert.equal((await me.json()).user.username, "token:backup-script", "the shown token works");
      await page.keyboard.press("Escape");
      await page.waitForSelector("#token-table");
      await shoot("tokens");
      await page.click("nav a[data-page=audit]");
      await page.waitForFunction(() =>
        /token\.create/.test(document.getElementById("audit-table")?.textContent ?? "")
      );
      assert.match(await page.innerText("#audit-table"), /auth\.setup/);
      await page.waitForSelector("#audit-chain .badge");
      assert.match(await page.innerText("#audit-chain"), /chain verified/);
      await shoot("audit");
      await page.click("nav a[data-page=config]");
      await page.waitForSelector("#config details");
      const cfg = await page.innerText("#config");
      assert.ok(!cfg.includes(MQTT_SECRET), "the MQTT password is not shown");
      assert.ok(!cfg.includes(TEST_CREDENTIALS.secretAccessKey), "nor the AWS secret key");
      await page.click("#config summary:has-text('mqtt')");
      assert.match(await page.innerText("#config"), /"password": "\[redacted\]"/);
      await shoot("config");
      // Shadow: desired (set here through the API) against reported (from the item).
      db.put("Thermostat", { id: "main", setpoint: 19, temperature: 20.5 });
      const patched = await page.evaluate(async () => {
        const me = await (await fetch("/api/auth/me")).json();
        const r = await fetch("/api/shadow/thermostat", {
          method: "PATCH",
          headers: { "content-type": "application/json", "x-xsrf-token": me.xsrf },
          body: JSON.stringify({ desired: { setpoint: 22.5 } }),
        });
        return r.status;
      });
      assert.equal(patched, 200);
      await page.click("nav a[data-page=shadow]");
      await page.waitForSelector("table.shadow tbody tr");
      const shadowText = await page.innerText("table.shadow");
      assert.match(shadowText, /setpoint\s+22\.5\s+19/);
      assert.match(shadowText, /temperature\s+20\.5/);
      assert.equal(await page.locator("table.shadow tr.delta").count(), 1, "the delta marked");
      await shoot("shadow");

      // XSRF: a write from the logged-in page without the token is refused.
      const xsrf = await page.evaluate(async () => {
        const body = JSON.stringify({ sensor: "x", time: "2026-03-01T00:00:00Z", value: 1 });
        const h = { "content-type": "application/json" };
        const bare = await fetch("/api/data/Reading", { method: "POST", headers: h, body });
        const me = await (await fetch("/api/auth/me")).json();
        const ok = await fetch("/api/data/Reading", {
          method: "POST",
          headers: { ...h, "x-xsrf-token": me.xsrf },
          body,
        });
        return [bare.status, ok.status];
      });
      assert.deepEqual(xsrf, [403, 201]);

      // Keyboard: the menu is reachable and works with Tab and Enter.
      await page.focus("nav a[data-page=overview]");
      await page.keyboard.press("Enter");
      await page.waitForSelector("#services");

      // A "user": no admin pages offered, none reachable, and the API refuses them.
      const viewerCtx = await browser.newContext({ viewport: PHONE });
      const vp = await viewerCtx.newPage();
      vp.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      await vp.goto(base + "/");
      await vp.waitForSelector("#login-form", { state: "visible" });
      await vp.fill("#login-form input[name=username]", "viewer");
      await vp.fill("#login-form input[name=password]", VIEWER_PW);
      await vp.click("#login-form button[type=submit]");
      await vp.waitForSelector("#services");
      // On a phone the menu is behind the menu button.
      assert.equal(await vp.isVisible("#nav"), false);
      await vp.click("#menu");
      assert.equal(await vp.isVisible("#nav a[data-page=data]"), true);
      const offered = await vp.$$eval("#nav a", (as) => as.map((a) => a.getAttribute("data-page")));
      assert.deepEqual(offered, ["overview", "metrics", "data", "shadow"]);
      for (const p of ["users", "tokens", "audit", "config", "logs"]) {
        await vp.goto(`${base}/#/${p}`);
        await vp.waitForSelector("#denied");
      }
      await vp.goto(`${base}/#/data`);
      await vp.waitForSelector("table.items tbody tr");
      assert.equal(await vp.$("#new-item"), null, "no New button for a reader");
      const refused = await vp.evaluate(async () =>
        await Promise.all(
          [
            "/api/users",
            "/api/tokens",
            "/api/config",
            "/api/audit",
            "/api/logs",
            "/api/events?topics=logs",
          ].map(async (p) => (await fetch(p)).status),
        )
      );
      assert.deepEqual(refused, [403, 403, 403, 403, 403, 403]);
      // The admin disables the viewer: their live page notices and shows the login.
      await vp.goto(`${base}/#/overview`);
      await vp.waitForSelector("#services");
      const disabled = await page.evaluate(async () => {
        const me = await (await fetch("/api/auth/me")).json();
        const r = await fetch("/api/users/viewer", {
          method: "PATCH",
          headers: { "content-type": "application/json", "x-xsrf-token": me.xsrf },
          body: JSON.stringify({ disabled: true }),
        });
        return r.status;
      });
      assert.equal(disabled, 200);
      await vp.waitForSelector("#login-form", { state: "visible", timeout: 10_000 });
      await viewerCtx.close();

      assert.deepEqual(foreign, [], "no request leaves the device");
      // Chromium logs every 4xx/5xx answer as a console error: keep only the unexpected
      // (400 validation, 401 before login, 403 refusals, 503 of the shadow that is off).
      const real = errors.filter((e) =>
        !/Failed to load resource: .* status of (400|401|403|503)/.test(e)
      );
      assert.deepEqual(real, [], `no console errors: ${errors.join(" / ")}`);
      assert.ok(shots.length >= 20);
    } finally {
      await browser.close();
      await agent.stop();
    }
  },
});
