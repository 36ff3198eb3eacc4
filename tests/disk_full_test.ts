/**
 * A full disk, for real: the agent's state directory on a small tmpfs of its
 * own, filled by a file until the kernel answers ENOSPC, with the agent
 * started as the start task starts it and a device maker's entry point
 * (tests/bench/web/device.ts, the README's pattern) binding its action.
 *
 * - While the agent runs: API writes are refused with 507 `full` and change
 *   nothing; reads, the device's action and health go on; the agent logs the
 *   episode once, not once per refused write, and `/api/status` shows it; once
 *   the file is removed, writes succeed again without a restart, and every
 *   write acknowledged before, during and after is there.
 * - Started on a full disk: the database fails its start and is retried, the
 *   agent does not exit, and once space is freed the web server comes up with
 *   the device's action bound.
 *
 * Needs root (mount); CI runs it as root.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { freePort } from "../deploy/free_port.ts";
import { adminSession, DEVICE, writeConfig } from "./bench/web/configs.ts";
import { type AgentProcess, spawnAgent } from "./bench/web/start_task.ts";
import { skipUnlessRoot } from "./helpers/peers.ts";
import { until } from "./helpers/wait.ts";

const ignore = skipUnlessRoot(import.meta.url);

/** A tmpfs of `mb` MB mounted on a new directory; unmounted and removed on dispose. */
async function smallDisk(mb: number): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "tern_full_" });
  const m = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${mb}m,mode=0700`, "tmpfs", path],
    stderr: "piped",
  }).output();
  if (!m.success) throw new Error(`mount failed: ${new TextDecoder().decode(m.stderr)}`);
  return {
    path,
    async [Symbol.asyncDispose]() {
      await new Deno.Command("umount", { args: ["-l", path] }).output();
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** Fill `dir`'s file system with `dir/filler` until ENOSPC; returns the file's path. */
async function fill(dir: string): Promise<string> {
  const path = join(dir, "filler");
  using f = await Deno.open(path, { create: true, write: true });
  const chunk = new Uint8Array(64 * 1024);
  try {
    for (;;) await f.write(chunk);
  } catch (e) {
    if (!(e instanceof Error) || !/No space left/.test(e.message)) throw e;
  }
  return path;
}

/** The device config (a user, the Reading model, documents) with a fast restart and a log file. */
function config(dir: string, state: string): string {
  const cfg = writeConfig(join(dir, "config"), "device");
  const file = join(cfg, "tern.json5");
  const c = JSON.parse(Deno.readTextFileSync(file));
  c.agent = { restart: { min: 200, max: 1000 } };
  c.log = { file: { path: join(state, "agent.log") } };
  Deno.writeTextFileSync(file, JSON.stringify(c));
  return cfg;
}

const ENTRY = "tests/bench/web/device.ts";

/** A small disk holding the agent's config and state directories. */
async function agentDisk(): Promise<
  { path: string; state: string; cfg: string } & AsyncDisposable
> {
  const disk = await smallDisk(16);
  const state = join(disk.path, "state");
  return { ...disk, state, cfg: config(disk.path, state) };
}

function startAgent(cfg: string, state: string, port: number): AgentProcess {
  return spawnAgent({ configDir: cfg, stateDir: state, port, entry: ENTRY });
}

/** Log lines of `agent` whose message matches `re`. */
function lines(agent: AgentProcess, re: RegExp): string[] {
  return agent.log().split("\n").filter((l) => re.test(l));
}

Deno.test({
  name:
    "a full disk: writes refused with 507 and nothing changed, reads go on, logged once; writes resume once space is freed",
  ignore,
  sanitizeResources: false,
  async fn() {
    await using disk = await agentDisk();
    const { state } = disk;
    await using agent = startAgent(disk.cfg, state, freePort());
    await agent.until(/"Agent started"/);
    const s = await adminSession(agent);
    const headers = {
      "content-type": "application/json",
      cookie: s.cookie,
      "x-xsrf-token": s.xsrf,
    };
    let n = 0;
    const acked: string[] = [];
    const write = async () => {
      const time = new Date(Date.UTC(2026, 0, 1) + n++ * 1000).toISOString();
      const res = await fetch(`${agent.url}/api/data/Reading`, {
        method: "POST",
        headers,
        body: JSON.stringify({ deviceId: DEVICE, time, value: n }),
      });
      const body = await res.json();
      if (res.status === 201) acked.push(time);
      return { status: res.status, body };
    };
    const count = async () => {
      const res = await fetch(`${agent.url}/api/data/Reading?limit=1000`, { headers });
      assert.equal(res.status, 200);
      return ((await res.json()).items as unknown[]).length;
    };
    for (let i = 0; i < 20; i++) assert.equal((await write()).status, 201);

    const filler = await fill(disk.path);
    const before = await count();
    const answers = [];
    for (let i = 0; i < 60; i++) answers.push(await write());
    const refused = answers.filter((a) => a.status === 507);
    // SQLite may still place a few writes in pages it holds; the rest are refused, clearly.
    assert.ok(refused.length >= 50, `refused ${refused.length} of 60`);
    assert.deepEqual(answers.filter((a) => a.status !== 507 && a.status !== 201), []);
    assert.equal(refused[0]!.body.error.code, "full");
    assert.match(refused[0]!.body.error.message, /storage is full; nothing was written/);
    assert.equal(
      await count(),
      before + answers.length - refused.length,
      "refused writes changed nothing",
    );
    assert.equal((await fetch(`${agent.url}/api/device/state`)).status, 200);
    assert.equal((await fetch(`${agent.url}/api/health`)).status, 200);
    const status = await (await fetch(`${agent.url}/api/status`, { headers })).json();
    const db = status.services.find((x: { name: string }) => x.name === "database");
    assert.ok(db.details.storageFull, JSON.stringify(db));
    assert.equal(lines(agent, /Storage full/).length, 1, "the episode is logged once");
    assert.deepEqual(
      lines(agent, /"level":"(error|fatal)"/).filter((l) => !/Storage full/.test(l)),
      [],
    );

    await Deno.remove(filler);
    await until(async () => (await write()).status === 201, {
      ms: 10_000,
      what: "a write after the disk has room",
    });
    await agent.until(/Storage has room again/, 5_000);
    for (let i = 0; i < 10; i++) assert.equal((await write()).status, 201);
    const after = await (await fetch(`${agent.url}/api/status`, { headers })).json();
    assert.equal(
      after.services.find((x: { name: string }) => x.name === "database").details.storageFull,
      undefined,
    );
    assert.equal(await count(), acked.length, "every acknowledged write is there");
    assert.equal(await agent.stop(), 0);
    using sql = new DatabaseSync(join(state, "tern.db"));
    assert.equal(sql.prepare("PRAGMA integrity_check").get()?.integrity_check, "ok");
  },
});

Deno.test({
  name:
    "started on a full disk: the agent stays up, and serves with the device's action once space is freed",
  ignore,
  sanitizeResources: false,
  async fn() {
    await using disk = await agentDisk();
    const { state, cfg } = disk;
    const port = freePort();
    {
      // A first run creates the database and the admin.
      await using first = startAgent(cfg, state, port);
      await first.until(/"Agent started"/);
      await adminSession(first);
      assert.equal(await first.stop(), 0);
    }
    const filler = await fill(disk.path);
    await using agent = startAgent(cfg, state, port);
    await agent.until(/"Agent started"/);
    await agent.until(/"Service failed","service":"database"/, 5_000);
    // Retried, and still up a few restarts later.
    await until(
      () => lines(agent, /"Service restart scheduled","service":"database"/).length >= 3,
      {
        ms: 10_000,
        what: "database retries",
      },
    );
    const exited = await Promise.race([
      agent.child.status.then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), 500)),
    ]);
    assert.equal(exited, false, `the agent exited:\n${agent.log().slice(-2000)}`);

    await Deno.remove(filler);
    await until(async () => {
      const res = await fetch(`${agent.url}/api/device/state`).catch(() => undefined);
      await res?.body?.cancel();
      return res?.status === 200;
    }, { ms: 15_000, what: "the device's action once the database runs" });
    assert.equal((await fetch(`${agent.url}/api/health`)).status, 200);
    assert.equal(await agent.stop(), 0);
  },
});
