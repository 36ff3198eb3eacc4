/**
 * `kill -9` of an agent with CloudWatch Logs 20 times at random moments while
 * three sources write and upload: the app API, the agent's own log, and a
 * file this test keeps appending to (and rotates by rename once). After a
 * final clean run has drained the spool: every app and agent line
 * acknowledged before a kill, and every line written to the file, is in
 * moto exactly once (compared by line id), and `integrity_check` is ok.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { forEachLine, killAndCheck, spawnDeno } from "./helpers/process.ts";
import { getLogEvents, startLogsEndpoint, startMoto } from "./helpers/moto.ts";

const ROUNDS = 20;
const CHILD = new URL("./cloud_logs_kill_child.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;
const FLAGS = [
  `--config=${CONFIG}`,
  "--allow-read",
  "--allow-write",
  "--allow-net=127.0.0.1",
  "--allow-env",
];

/** Line ids in `messages` matching `re`, with how often each appears. */
function ids(messages: string[], re: RegExp): Map<number, number> {
  const out = new Map<number, number>();
  for (const m of messages) {
    const x = re.exec(m);
    if (x) out.set(Number(x[1]), (out.get(Number(x[1])) ?? 0) + 1);
  }
  return out;
}

Deno.test("kill -9 20 times while three sources write and upload: every line arrives exactly once", async () => {
  await using moto = await startMoto();
  await using ep = await startLogsEndpoint(moto);
  const dir = await Deno.makeTempDir({ prefix: "tern_logs_kill_" });
  await Deno.mkdir(join(dir, "app"));
  const file = join(dir, "app", "w.log");
  let fileN = 0;
  const writeFile = async (k: number) => {
    let text = "";
    for (let i = 0; i < k; i++) text += `${new Date().toISOString()} file ${fileN++}\n`;
    await Deno.writeTextFile(file, text, { append: true });
  };
  const acked = { app: new Set<number>(), agent: new Set<number>() };
  let next = 1;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const child = spawnDeno(FLAGS, CHILD, [dir, ep.url, String(next)]);
      let ready = () => {};
      const isReady = new Promise<void>((r) => ready = r);
      const reader = forEachLine(child.stdout, (line) => {
        if (line === "ready") ready();
        const m = /^ack (app|agent) (\d+)$/.exec(line);
        if (m) {
          acked[m[1] as "app" | "agent"].add(Number(m[2]));
          next = Math.max(next, Number(m[2]) + 1);
        }
      });
      const stderr = new Response(child.stderr).text();
      await Promise.race([isReady, child.status]);
      const until = Date.now() + 100 + Math.random() * 500;
      while (Date.now() < until) {
        await writeFile(5);
        await new Promise((r) => setTimeout(r, 20));
      }
      if (round === ROUNDS / 2) await Deno.rename(file, `${file}.1`); // rotation by rename
      await killAndCheck(child, reader, stderr, `round ${round}`);
      next += 1;
    }
    // The killed agents uploaded between kills, not only the final run.
    const before = await getLogEvents(moto, "/tern/d1", "d1/app/kill").catch(() => []);
    assert.ok(before.length > 0, "lines went up before the last kill");
    // A final clean run drains what is left.
    const child = spawnDeno(FLAGS, CHILD, [dir, ep.url, String(next + 1_000_000)]);
    const reader = forEachLine(child.stdout, () => {});
    const stderr = new Response(child.stderr).text();
    const group = "/tern/d1";
    const end = Date.now() + 30_000;
    let app: string[] = [], agent: string[] = [], lines: string[] = [];
    for (;;) {
      app = (await getLogEvents(moto, group, "d1/app/kill").catch(() => [])).map((e) => e.message);
      agent = (await getLogEvents(moto, group, "d1/agent").catch(() => [])).map((e) => e.message);
      lines = [
        ...(await getLogEvents(moto, group, "d1/w.log").catch(() => [])),
        ...(await getLogEvents(moto, group, "d1/w.log.1").catch(() => [])),
      ].map((e) => e.message);
      const appIds = ids(app, /^app (\d+)$/);
      const agentIds = ids(agent, /"msg":"agent (\d+)"/);
      const fileIds = ids(lines, / file (\d+)$/);
      const done = [...acked.app].every((n) => appIds.has(n)) &&
        [...acked.agent].every((n) => agentIds.has(n)) && fileIds.size === fileN;
      if (done || Date.now() > end) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await killAndCheck(child, reader, stderr, "final run");
    const appIds = ids(app, /^app (\d+)$/);
    const agentIds = ids(agent, /"msg":"agent (\d+)"/);
    const fileIds = ids(lines, / file (\d+)$/);
    for (const n of acked.app) assert.ok(appIds.has(n), `acknowledged app line ${n} is missing`);
    for (const n of acked.agent) {
      assert.ok(agentIds.has(n), `acknowledged agent line ${n} is missing`);
    }
    for (let n = 0; n < fileN; n++) assert.ok(fileIds.has(n), `file line ${n} is missing`);
    for (const [what, m] of [["app", appIds], ["agent", agentIds], ["file", fileIds]] as const) {
      const twice = [...m].filter(([, c]) => c > 1).map(([n]) => n);
      assert.deepEqual(twice, [], `${what} lines sent twice`);
    }
    assert.ok(acked.app.size > 100, `the children wrote (${acked.app.size} app lines)`);
    const db = new DatabaseSync(join(dir, "tern.db"));
    try {
      const rows = db.prepare("PRAGMA integrity_check").all().map((r) => ({ ...r }));
      assert.deepEqual(rows, [{ integrity_check: "ok" }]);
    } finally {
      db.close();
    }
    assert.equal(ep.rejected, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
