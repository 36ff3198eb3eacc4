/**
 * The CLI as a user runs it: a real `deno run main.ts` child process with
 * scoped permissions; exit codes, help, permission derivation end to end,
 * signals, and secrets kept out of every log output.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { collect, freePort, runDeno, spawnDeno, waitForText } from "./helpers/process.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const ALL = ["--allow-read", "--allow-write", "--allow-env", "--allow-net"];
const COMMANDS = ["run", "check-config", "permissions", "db", "sync", "user", "token", "version"];

function configDir(files: Record<string, string>): string {
  const dir = Deno.makeTempDirSync({ prefix: "tern-cli-" });
  for (const [name, text] of Object.entries(files)) {
    Deno.mkdirSync(join(dir, name, ".."), { recursive: true });
    Deno.writeTextFileSync(join(dir, name), text);
  }
  return dir;
}

/** A config dir with its own state dir and web on a free port. */
function agentConfig(extra = ""): { dir: string; state: string; port: number } {
  const port = freePort();
  const state = Deno.makeTempDirSync({ prefix: "tern-state-" }) + "/state";
  const dir = configDir({
    "tern.json5": `{ agent: { state: "${state}", stopTimeout: 5000 },
      web: { listen: ["http://127.0.0.1:${port}"] }, ${extra} }`,
  });
  return { dir, state, port };
}

/** Start the drain fixture (the real run path plus a "slow" service) and wait until it runs. */
async function startFixture(dir: string, env: Record<string, string> = {}) {
  const marker = Deno.makeTempFileSync();
  const child = spawnDeno(ALL, new URL("./fixtures/drain_agent.ts", import.meta.url).pathname, [], {
    MARKER: marker,
    DRAIN_MS: "0",
    CONFIG_DIR: dir,
    ...env,
  });
  await waitForText(marker, "started");
  return { child, marker };
}

Deno.test("help lists every command and --help works on each", async () => {
  const help = await runDeno(ALL, MAIN, ["help"]);
  assert.equal(help.code, 0);
  for (const c of COMMANDS) assert.match(help.stdout, new RegExp(`^  ${c} `, "m"));
  for (const c of COMMANDS) {
    const r = await runDeno(ALL, MAIN, [c, "--help"]);
    assert.equal(r.code, 0, `${c} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Usage: tern ${c}`));
    assert.match(r.stdout, /--config DIR/);
  }
});

Deno.test("usage errors exit 64 with a message", async () => {
  for (
    const [args, msg] of [
      [["frobnicate"], /Unknown command "frobnicate"/],
      [["version", "extra"], /Unexpected argument "extra"/],
      [["permissions", "--jsn"], /Unknown option "--jsn"/],
      [["check-config", "--config"], /Option --config needs a value/],
      [["check-config", "--log-level", "loud"], /Invalid --log-level "loud"/],
    ] as const
  ) {
    const r = await runDeno(ALL, MAIN, [...args]);
    assert.equal(r.code, 64, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, msg);
  }
});

Deno.test("check-config exits 78 listing every problem, 0 when valid", async () => {
  const bad = configDir({
    "tern.json5": `{ web: { listn: [] }, agent: { stopTimeout: -1 } }`,
    "device.json5": `{ id: 42 }`,
  });
  const r = await runDeno(ALL, MAIN, ["check-config", "--config", bad]);
  assert.equal(r.code, 78);
  assert.match(r.stderr, /Configuration has 3 problems/);
  assert.match(r.stderr, /Unknown key "web.listn" in tern.json5 \(did you mean "web.listen"\?\)/);
  assert.match(
    r.stderr,
    /"agent.stopTimeout" in tern.json5: expected a number ≥ 0, found number -1/,
  );
  assert.match(r.stderr, /"device.id" in device.json5: expected a string, found number 42/);

  const good = configDir({ "tern.json5": `{ log: { level: "debug" } }` });
  const ok = await runDeno(ALL, MAIN, ["check-config", "--config", good]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /Configuration OK/);

  const missing = await runDeno(ALL, MAIN, ["check-config", "--config", "/nonexistent/tern"]);
  assert.equal(missing.code, 78);
  assert.match(missing.stderr, /Config directory "\/nonexistent\/tern" does not exist/);

  const profile = await runDeno(ALL, MAIN, ["check-config", "--config", good, "--profile", "prod"]);
  assert.equal(profile.code, 78);
  assert.match(profile.stderr, /Profile "prod" not found/);
});

Deno.test("the agent runs with exactly the flags `tern permissions` prints, and stops with 0 on SIGTERM", async () => {
  const { dir, port } = agentConfig();
  const perms = await runDeno(ALL, MAIN, ["permissions", "--config", dir]);
  assert.equal(perms.code, 0, perms.stderr);
  const flags = perms.stdout.trim().split("\n");
  assert.ok(flags.every((f) => /^--allow-(read|write|net|env|sys)=\S+$/.test(f)), flags.join(" "));
  assert.ok(flags.includes(`--allow-net=127.0.0.1:${port}`));

  const child = spawnDeno(flags, MAIN, ["run", "--config", dir]);
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes('"Agent started"')) {
    const { value, done } = await stderr.read();
    assert.ok(!done, `agent exited early: ${seen}`);
    seen += value;
  }
  child.kill("SIGTERM");
  for (;;) {
    const { value, done } = await stderr.read();
    if (done) break;
    seen += value;
  }
  const status = await child.status;
  await child.stdout.cancel();
  assert.equal(status.code, 0, seen);
  assert.match(seen, /"Agent stopped"/);
});

Deno.test("a missing permission exits 78 naming the flag", async () => {
  const { dir, port } = agentConfig();
  const r = await runDeno(["--allow-read", "--allow-write", "--allow-env"], MAIN, [
    "run",
    "--config",
    dir,
  ]);
  assert.equal(r.code, 78, r.stderr);
  assert.match(r.stderr, new RegExp(`--allow-net=127\\.0\\.0\\.1:${port}`));
});

Deno.test("a failure at run time exits 1", async () => {
  // The state directory cannot be created under a regular file.
  const file = Deno.makeTempFileSync();
  const dir = configDir({
    "tern.json5": `{ web: { enabled: false }, database: { enabled: false } }`,
  });
  const r = await runDeno(ALL, MAIN, ["run", "--config", dir, "--state", `${file}/state`]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /Agent failed to start|Not a directory/);
});

Deno.test("SIGTERM drains in-flight work before exit; a blown deadline exits 1", async () => {
  for (const [drainMs, stopTimeout, code] of [[300, 5000, 0], [3000, 200, 1]] as const) {
    const { dir } = agentConfig(`database: { enabled: false }`);
    Deno.writeTextFileSync(
      join(dir, "local.json5"),
      `{ agent: { stopTimeout: ${stopTimeout} }, web: { enabled: false } }`,
    );
    const { child, marker } = await startFixture(dir, { DRAIN_MS: String(drainMs) });
    child.kill("SIGTERM");
    const r = await collect(child);
    assert.equal(r.code, code, r.stderr);
    if (code === 0) {
      assert.equal(Deno.readTextFileSync(marker), "started\ndrained\n");
      assert.match(
        r.stderr,
        /"Stop signal received".*"signal":"SIGTERM"|"signal":"SIGTERM".*"Stop signal received"/,
      );
    } else {
      assert.equal(Deno.readTextFileSync(marker), "started\n");
      assert.match(r.stderr, /Agent stop deadline passed/);
    }
  }
});

Deno.test("SIGHUP reloads the config: log level applies live, other changes are reported", async () => {
  const { dir } = agentConfig(`database: { enabled: false }`);
  Deno.writeTextFileSync(join(dir, "local.json5"), `{ web: { enabled: false } }`);
  const { child } = await startFixture(dir);
  Deno.writeTextFileSync(
    join(dir, "local.json5"),
    `{ web: { enabled: false }, log: { level: "warn" }, agent: { stopTimeout: 4000 } }`,
  );
  child.kill("SIGHUP");
  await new Promise((r) => setTimeout(r, 500));
  child.kill("SIGTERM");
  const r = await collect(child);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /"Some changes need a restart".*"agent.stopTimeout"/);
  // After the reload the level is warn: the info lines of the stop are gone.
  assert.doesNotMatch(r.stderr, /"Agent stopped"/);
});

Deno.test("secrets in the config never reach any log output, even at debug level", async () => {
  const { dir, state } = agentConfig(`
    log: { file: { path: "logs/tern.log" }, redact: ["device.name"] },
    database: { enabled: false },
    mqtt: { enabled: false, username: "device-user", password: "Hunter2-Mqtt-Pw" },
    aws: { region: "eu-west-1", credentials: { accessKeyId: "AKIAEXAMPLEEXAMPLE01", secretAccessKey: "wJalrXUtnFEMI-K7MDENG-secretkey" } },`);
  Deno.writeTextFileSync(join(dir, "device.json5"), `{ name: "serial-ABC-998877" }`);
  Deno.writeTextFileSync(join(dir, "local.json5"), `{ web: { enabled: false } }`);
  const { child } = await startFixture(dir, { TERN_LOG_LEVEL: "debug" });
  child.kill("SIGTERM");
  const r = await collect(child);
  assert.equal(r.code, 0, r.stderr);
  const file = Deno.readTextFileSync(join(state, "logs/tern.log"));
  for (const out of [r.stderr, file]) {
    // The effective config is logged at debug level: the non-secret parts are there…
    assert.match(out, /"Effective configuration"/);
    assert.match(out, /device-user/);
    assert.match(out, /"region":"eu-west-1"/);
    assert.match(out, /\[redacted\]/);
    // …and the secrets are not.
  }
  for (const out of [r.stdout, r.stderr, file]) {
    for (
      const secret of ["Hunter2-Mqtt-Pw", "wJalrXUtnFEMI-K7MDENG-secretkey", "serial-ABC-998877"]
    ) {
      assert.ok(!out.includes(secret), `${secret} leaked`);
    }
  }
});

Deno.test("an incompatible schema change stops the agent with exit 78 and keeps the data", async () => {
  const { dir, state } = agentConfig();
  Deno.writeTextFileSync(join(dir, "local.json5"), `{ web: { enabled: false } }`);
  const schema = (sk: string) =>
    `{ models: { Reading: { pk: "R#\${deviceId}", sk: "${sk}",
       fields: { deviceId: { type: "string", required: true }, time: { type: "date", required: true } } } } }`;
  Deno.writeTextFileSync(join(dir, "schema.json5"), schema("T#${time}"));
  const put = await runDeno(ALL, MAIN, [
    "db",
    "put",
    "Reading",
    `{"deviceId":"d1","time":"2026-01-01T00:00:00Z"}`,
    "--config",
    dir,
  ]);
  assert.equal(put.code, 0, put.stderr);
  Deno.writeTextFileSync(join(dir, "schema.json5"), schema("X#${time}"));
  const r = await runDeno(ALL, MAIN, ["run", "--config", dir]);
  assert.equal(r.code, 78, r.stderr);
  assert.match(r.stderr, /Reading/);
  assert.doesNotMatch(r.stderr, /Service restart scheduled/);
  // The stored item is untouched: the old schema still reads it.
  Deno.writeTextFileSync(join(dir, "schema.json5"), schema("T#${time}"));
  const get = await runDeno(ALL, MAIN, ["db", "find", "Reading", "--config", dir]);
  assert.equal(get.code, 0, get.stderr);
  assert.match(get.stdout, /"deviceId":\s*"d1"/);
  assert.ok(Deno.statSync(join(state, "tern.db")).isFile);
});
