/**
 * Where the agent's time goes per case: for each throughput case (or those
 * matching `--case <substring>`), a fresh agent of the case's kind started as
 * the benchmark starts it plus `--cpu-prof` (V8's sampling profiler, written
 * when the agent exits), one second of wrk to warm it, `--seconds` (default
 * 10) of wrk, SIGTERM; then the top self and inclusive functions of the
 * profile (tests/bench/web/cpuprofile.ts). Not a measured run: the profiler
 * slows the agent.
 *
 * `deno run -A tests/bench/web/profile.ts [--case health] [--seconds 10] [--top 20] [--out FILE.md]
 * [--keep DIR]` (`--keep`: copy each `.cpuprofile` there, named after its case, for DevTools or
 * `cpuprofile.ts`).
 */

import { join } from "node:path";
import { freePort } from "../../../deploy/free_port.ts";
import { CASES } from "./cases.ts";
import { DEVICE_ENTRY, login, type Session, writeConfig } from "./configs.ts";
import { summarize, table } from "./cpuprofile.ts";
import { SERVER_CORE, wrk } from "./load.ts";
import { buildAgent, buildEntry, spawnAgent } from "./start_task.ts";

function args(name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < Deno.args.length; i++) {
    if (Deno.args[i] === `--${name}` && Deno.args[i + 1]) out.push(Deno.args[++i]!);
  }
  return out;
}

if (import.meta.main) {
  await buildAgent();
  const filter = args("case");
  const seconds = Number(args("seconds")[0] ?? 10);
  const top = Number(args("top")[0] ?? 20);
  const out = args("out")[0];
  const keep = args("keep")[0];
  const cases = filter.length ? CASES.filter((c) => filter.some((f) => c.name.includes(f))) : CASES;
  const tmp = await Deno.makeTempDir({ prefix: "tern-profile-" });
  const parts: string[] = [];
  try {
    for (const [i, c] of cases.entries()) {
      const dir = join(tmp, String(i));
      const profDir = join(dir, "prof");
      Deno.mkdirSync(profDir, { recursive: true });
      const agent = spawnAgent({
        configDir: writeConfig(join(dir, "config"), c.on === "default" ? "default" : "device"),
        stateDir: join(dir, "state"),
        port: freePort(),
        ...(c.on === "device" ? { entry: await buildEntry(DEVICE_ENTRY) } : {}),
        extraFlags: ["--cpu-prof", `--cpu-prof-dir=${profDir}`],
        ...(SERVER_CORE ? { core: SERVER_CORE } : {}),
      });
      let rps = 0;
      try {
        await agent.until(/"Agent started"/);
        const session: Session = c.on === "device"
          ? await login(agent)
          : { cookie: "", xsrf: "", key: "" };
        const t = c.make(agent.url, session);
        await wrk(t, agent.pid, 1, dir);
        const r = await wrk(t, agent.pid, seconds, dir);
        rps = r.rps;
        if (r.errors) console.error(`${c.name}: ${r.errors} errors`);
      } finally {
        await agent.stop(30_000);
      }
      const file = [...Deno.readDirSync(profDir)].find((e) => e.name.endsWith(".cpuprofile"));
      if (!file) throw new Error(`${c.name}: no profile written in ${profDir}`);
      if (keep) {
        Deno.mkdirSync(keep, { recursive: true });
        const name = c.name.replace(/[^A-Za-z0-9]+/g, "_").replace(/^_|_$/g, "");
        Deno.copyFileSync(join(profDir, file.name), join(keep, `${name}.cpuprofile`));
      }
      const s = summarize(JSON.parse(Deno.readTextFileSync(join(profDir, file.name))));
      const skip = new Set(["(root)", "(program)", "(idle)"]);
      parts.push(`## ${c.name}

${rps.toFixed(0)} req/s under the profiler (${seconds} s of wrk after 1 s of warm-up; the profile
also holds the start and the stop). Busy ${s.busyMs.toFixed(0)} ms of ${
        s.totalMs.toFixed(0)
      } ms sampled.

Self time:

${table(s.self.filter((e) => e.fn !== "(idle)").slice(0, top), s.busyMs)}

Inclusive time (each sample once per function on its stack):

${table(s.inclusive.filter((e) => !skip.has(e.fn)).slice(0, top), s.busyMs)}`);
      console.error(parts.at(-1));
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  const md = `# CPU profiles of the agent's request paths\n\n${parts.join("\n\n")}\n`;
  if (out) Deno.writeTextFileSync(out, md);
  else console.log(md);
}
