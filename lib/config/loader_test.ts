import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError, defaultConfig, loadConfig } from "./mod.ts";
import { editDistance, suggest } from "./_suggest.ts";

/** Write `files` (name → text) into a fresh config dir. */
function configDir(files: Record<string, string>): string {
  const dir = Deno.makeTempDirSync();
  for (const [name, text] of Object.entries(files)) {
    Deno.mkdirSync(join(dir, name, ".."), { recursive: true });
    Deno.writeTextFileSync(join(dir, name), text);
  }
  return dir;
}

function problems(
  dir: string,
  opts: { profile?: string; env?: Record<string, string> } = {},
): string[] {
  try {
    loadConfig({ dir, ...opts, env: (n) => opts.env?.[n] });
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e.problems.map((p) => p.message);
  }
  assert.fail("expected a ConfigError");
}

const noEnv = () => undefined;

Deno.test("no config directory gives the embedded default: local mode, web on 127.0.0.1:8080", () => {
  const loaded = loadConfig({ dir: "/nonexistent/tern-config", env: noEnv });
  assert.deepEqual(loaded.config, defaultConfig());
  assert.equal(loaded.config.agent.mode, "local");
  assert.deepEqual(loaded.config.web.listen, ["http://127.0.0.1:8080"]);
  assert.equal(loaded.config.mqtt.enabled, false);
  assert.deepEqual(loaded.files, []);
});

Deno.test("a named config directory that does not exist is an error", () => {
  assert.throws(
    () => loadConfig({ dir: "/nonexistent/x", required: true, env: noEnv }),
    /Config directory "\/nonexistent\/x" does not exist/,
  );
});

Deno.test("a syntax error names the file, line and column", () => {
  const dir = configDir({ "tern.json5": "{\n  web: {\n    enabled: true,,\n  }\n}" });
  assert.deepEqual(problems(dir), [
    'Syntax error in tern.json5 at line 3, column 19: Invalid character ","',
  ]);
});

Deno.test("config files are JSON5: comments, unquoted keys, single quotes, trailing commas", () => {
  const dir = configDir({
    "tern.json5": "// device config\n{ agent: { mode: 'local', stopTimeout: 0x10, }, /* end */ }",
  });
  const { config } = loadConfig({ dir, env: noEnv });
  assert.equal(config.agent.mode, "local");
  assert.equal(config.agent.stopTimeout, 16);
});

Deno.test("a file cut short is a syntax error where the open string starts; __proto__ is only an unknown key", () => {
  assert.deepEqual(problems(configDir({ "tern.json5": "{ agent: { mode: 'lo" })), [
    "Syntax error in tern.json5 at line 1, column 18: Unterminated string",
  ]);
  const dir = configDir({ "tern.json5": `{ "__proto__": { polluted: 1 } }` });
  assert.match(problems(dir)[0]!, /^Unknown key "__proto__" in tern.json5/);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("a wrong type names the file, key path, expected and found", () => {
  const dir = configDir({ "tern.json5": `{ agent: { stopTimeout: "10s" } }` });
  assert.deepEqual(problems(dir), [
    'Invalid value for "agent.stopTimeout" in tern.json5: expected a number, found string "10s"',
  ]);
});

Deno.test("an unknown key is an error with a did-you-mean suggestion", () => {
  const dir = configDir({ "tern.json5": `{ web: { listn: ["http://127.0.0.1:80"] } }` });
  assert.deepEqual(problems(dir), [
    'Unknown key "web.listn" in tern.json5 (did you mean "web.listen"?)',
  ]);
});

Deno.test("an unknown key with no close match lists the known keys", () => {
  const dir = configDir({ "tern.json5": `{ agent: { zzzzzzzz: 1 } }` });
  const [msg] = problems(dir);
  assert.match(
    msg!,
    /^Unknown key "agent.zzzzzzzz" in tern.json5 \(known keys: state, mode, stopTimeout, restart\)$/,
  );
});

Deno.test("a missing required key is named with what was expected", () => {
  const dir = configDir({ "tern.json5": `{ web: { tls: { cert: "a.crt" } } }` });
  assert.deepEqual(problems(dir), [
    'Missing required key "web.tls.key" in tern.json5: expected a string',
  ]);
});

Deno.test("every problem of every file is reported at once", () => {
  const dir = configDir({
    "tern.json5": `{ log: { level: "loud" }, web: { listen: ["ftp://x"] } }`,
    "device.json5": `{ id: "has space" }`,
    "local.json5": `{ agent: { stopTimout: 5 } }`,
  });
  const got = problems(dir);
  assert.equal(got.length, 4);
  assert.ok(got.some((m) => m.includes('"log.level" in tern.json5: expected one of "debug"')));
  assert.ok(got.some((m) => m.includes('"web.listen[0]" in tern.json5')));
  assert.ok(got.some((m) => m.includes('"device.id" in device.json5')));
  assert.ok(
    got.some((m) =>
      m === 'Unknown key "agent.stopTimout" in local.json5 (did you mean "agent.stopTimeout"?)'
    ),
  );
});

Deno.test("a profile that does not exist lists the available ones", () => {
  const dir = configDir({ "profiles/dev.json5": "{}", "profiles/lab.json5": "{}" });
  assert.deepEqual(problems(dir, { profile: "prod" }), [
    `Profile "prod" not found: no file profiles/prod.json5 in "${dir}" (available: dev, lab)`,
  ]);
});

Deno.test("overlays apply in order: tern.json5 < profile < local.json5 < env", () => {
  const dir = configDir({
    "tern.json5":
      `{ agent: { stopTimeout: 1000 }, log: { level: "warn" }, web: { listen: ["http://127.0.0.1:1"] } }`,
    "device.json5": `{ id: "dev-1", name: "Pump" }`,
    "profiles/lab.json5": `{ agent: { stopTimeout: 2000 }, device: { name: "Lab pump" } }`,
    "local.json5": `{ agent: { stopTimeout: 3000 } }`,
  });
  const { config, files } = loadConfig({
    dir,
    profile: "lab",
    env: (n) => ({ TERN_WEB_LISTEN: "http://127.0.0.1:2, http://[::1]:3" })[n],
  });
  assert.equal(config.agent.stopTimeout, 3000);
  assert.equal(config.log.level, "warn");
  assert.deepEqual(config.device, { id: "dev-1", name: "Lab pump" });
  assert.deepEqual(config.web.listen, ["http://127.0.0.1:2", "http://[::1]:3"]);
  assert.deepEqual(files, ["tern.json5", "device.json5", "profiles/lab.json5", "local.json5"]);
});

Deno.test("a bad env override is attributed to the variable", () => {
  const dir = configDir({});
  assert.deepEqual(problems(dir, { env: { TERN_LOG_LEVEL: "chatty" } }), [
    'Invalid value for "log.level" (from env TERN_LOG_LEVEL): expected one of "debug", "info", "warn", "error", "off", found string "chatty"',
  ]);
});

Deno.test("secret values are collected and never echoed in errors", () => {
  const dir = configDir({
    "tern.json5": `{ mqtt: { password: "hunter2-secret" }, log: { redact: ["device.name"] } }`,
    "device.json5": `{ name: "serial-XYZ-123" }`,
  });
  const loaded = loadConfig({ dir, env: noEnv });
  assert.deepEqual(loaded.secrets.sort(), ["hunter2-secret", "serial-XYZ-123"]);
  const bad = configDir({
    "tern.json5":
      `{ aws: { credentials: { accessKeyId: "AKIAXXXXXXXXXXXXXXXX", secretAccessKey: 12345678901234567 } } }`,
  });
  const [msg] = problems(bad);
  assert.match(
    msg!,
    /"aws.credentials.secretAccessKey" in tern.json5: expected a string, found a number \(value hidden: secret\)/,
  );
  assert.ok(!msg!.includes("12345678901234567"));
});

Deno.test("a top level that is not an object is an error", () => {
  assert.deepEqual(problems(configDir({ "device.json5": `["a"]` })), [
    "Invalid device.json5: expected an object at the top, found an array of 1",
  ]);
});

Deno.test("suggest() finds typos but not unrelated words", () => {
  assert.equal(editDistance("listn", "listen"), 1);
  assert.equal(editDistance("lsiten", "listen"), 1);
  assert.equal(suggest("lisen", ["listen", "tls", "enabled"]), "listen");
  assert.equal(suggest("database", ["listen", "tls", "enabled"]), undefined);
});
