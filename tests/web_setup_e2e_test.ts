/**
 * First run as documented, end to end: the real agent (`main.ts run`) with
 * an empty state directory logs a one-time setup token; POSTing it to
 * /api/auth/setup creates the admin; the dashboard is served; after a
 * restart no token is printed and the session still works.
 */

import assert from "node:assert/strict";
import { forEachLine, freePort } from "./helpers/process.ts";
import { makeTlsFixtures } from "./helpers/tls.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const CFG = new URL("../deno.json", import.meta.url).pathname;

/** Start the agent; resolve with its log lines so far once the web service is running. */
async function startAgent(dir: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      CFG,
      MAIN,
      "run",
      "--config",
      `${dir}/config`,
      "--state",
      `${dir}/state`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const push = (l: string) => void lines.push(l);
  const done = Promise.all([forEachLine(child.stdout, push), forEachLine(child.stderr, push)]);
  const deadline = Date.now() + 30_000;
  while (!lines.some((l) => l.includes("Agent started"))) {
    if (Date.now() > deadline) throw new Error(`Agent did not start:\n${lines.join("\n")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    lines,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await done;
    },
  };
}

Deno.test("first run: the logged setup token creates the admin; a restart keeps users and sessions", async () => {
  const dir = await Deno.makeTempDir();
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  try {
    await Deno.mkdir(`${dir}/config`);
    await Deno.writeTextFile(
      `${dir}/config/tern.json5`,
      `{ web: { listen: ["${base}"], auth: { iterations: 10000 } } }`,
    );
    const a1 = await startAgent(dir);
    let cookie: string;
    try {
      const line = a1.lines.find((l) => l.includes("First run"));
      assert.ok(line, "the setup token is logged");
      const token = /\\"token\\":\\"([A-Za-z0-9_-]+)\\"/.exec(line!)?.[1] ??
        /"token":"([A-Za-z0-9_-]+)"/.exec(line!)?.[1];
      assert.ok(token, line);
      const page = await fetch(`${base}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<title>Tern device<\/title>/);
      const r = await fetch(`${base}/api/auth/setup`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token, username: "admin", password: "first-run-password" }),
      });
      assert.equal(r.status, 201);
      cookie = r.headers.get("set-cookie")!.split(";")[0]!;
      await r.body?.cancel();
      const again = await fetch(`${base}/api/auth/setup`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token, username: "admin2", password: "first-run-password" }),
      });
      assert.equal(again.status, 403);
      await again.body?.cancel();
    } finally {
      await a1.stop();
    }
    const a2 = await startAgent(dir);
    try {
      assert.ok(!a2.lines.some((l) => l.includes("First run")), "no token once a user exists");
      const me = await fetch(`${base}/api/auth/me`, { headers: { cookie } });
      assert.equal(me.status, 200);
      assert.equal((await me.json()).user.username, "admin");
      const status = await fetch(`${base}/api/status`, { headers: { cookie } });
      const body = await status.json();
      assert.deepEqual(
        body.services.map((s: { name: string; state: string }) => [s.name, s.state]).sort(),
        [["audit", "running"], ["database", "running"], ["web", "running"]],
      );
      const health = await fetch(`${base}/api/health`);
      assert.equal(health.status, 200);
      await health.body?.cancel();
    } finally {
      await a2.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the agent serves https on IPv6 and http on IPv4 from config, cert files beside the config", async () => {
  const dir = await Deno.makeTempDir();
  await using tls = await makeTlsFixtures();
  const [p1, p2] = [freePort(), freePort()];
  try {
    await Deno.mkdir(`${dir}/config/certs`, { recursive: true });
    await Deno.writeTextFile(`${dir}/config/certs/web.crt`, tls.serverCert);
    await Deno.writeTextFile(`${dir}/config/certs/web.key`, tls.serverKey);
    await Deno.writeTextFile(
      `${dir}/config/tern.json5`,
      `{ web: { listen: ["https://[::1]:${p1}", "http://127.0.0.1:${p2}"],
                tls: { cert: "certs/web.crt", key: "certs/web.key" } } }`,
    );
    const agent = await startAgent(dir);
    const client = Deno.createHttpClient({ caCerts: [tls.caCert] });
    try {
      const r = await fetch(`https://[::1]:${p1}/api/health`, { client });
      assert.equal(r.status, 200);
      assert.match(r.headers.get("strict-transport-security") ?? "", /max-age/);
      await r.body?.cancel();
      const setup = await fetch(`https://[::1]:${p1}/api/auth/setup`, { client });
      assert.deepEqual(await setup.json(), { needed: true });
      const plain = await fetch(`http://127.0.0.1:${p2}/api/health`);
      assert.equal(plain.status, 200);
      await plain.body?.cancel();
      assert.ok(!agent.lines.join("\n").includes("PRIVATE KEY"), "the key never reaches the log");
    } finally {
      client.close();
      await agent.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
