/**
 * `tern db …` against a real config directory and database file: every
 * subcommand, bad input, exit codes. Also: schema.json5 model errors are
 * reported by the config loader with file, model and field.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { dbCommand } from "../lib/cli/db.ts";
import { EXIT, UsageError } from "../lib/cli/_command.ts";
import { ConfigError, loadConfig } from "../lib/config/mod.ts";

const SCHEMA = `{
  // device data
  models: {
    Reading: {
      pk: "Sensor#\${deviceId}", sk: "Reading#\${time}",
      fields: {
        deviceId: { type: "string", required: true },
        time: { type: "date", required: true },
        value: { type: "number", max: 150 },
      },
    },
  },
}`;

async function setup(schema = SCHEMA) {
  const dir = await Deno.makeTempDir({ prefix: "tern_db_cli_" });
  await Deno.mkdir(join(dir, "config"));
  await Deno.writeTextFile(join(dir, "config", "schema.json5"), schema);
  const flags = { config: join(dir, "config"), state: join(dir, "state") };
  const run = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await dbCommand.run(args, flags, {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
    });
    return { code, out: out.join("\n"), err: err.join("\n") };
  };
  return {
    dir,
    flags,
    run,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const ITEM = '{"deviceId":"d1","time":"2024-05-01T00:00:00Z","value":20}';
const KEY = '{"deviceId":"d1","time":"2024-05-01T00:00:00Z"}';

Deno.test("tern db put, get, find, delete round-trip through the database file", async () => {
  await using t = await setup();
  const put = await t.run("put", "Reading", ITEM);
  assert.equal(put.code, EXIT.ok);
  assert.equal(JSON.parse(put.out)._version, 1);
  await t.run("put", "Reading", ITEM.replace("05-01", "05-02"));
  const got = await t.run("get", "Reading", KEY);
  assert.equal(got.code, EXIT.ok);
  assert.equal(JSON.parse(got.out).value, 20);
  const raw = await t.run("get", "Reading", "Sensor#d1", "Reading#2024-05-01T00:00:00.000Z");
  assert.equal(JSON.parse(raw.out).value, 20);
  const found = await t.run("find", "Reading", '{"deviceId":"d1"}', "--limit", "1");
  assert.equal(found.out.split("\n").length, 1);
  assert.match(found.err, /^next: \S+$/);
  const next = found.err.slice("next: ".length);
  const page2 = await t.run("find", "Reading", '{"deviceId":"d1"}', "--next", next);
  assert.equal(JSON.parse(page2.out).time, "2024-05-02T00:00:00.000Z");
  const prefix = await t.run("find", "Reading", "Sensor#d1", "--prefix", "Reading#2024-05-02");
  assert.equal(prefix.out.split("\n").length, 1);
  assert.equal((await t.run("delete", "Reading", KEY)).code, EXIT.ok);
  const gone = await t.run("get", "Reading", KEY);
  assert.equal(gone.code, EXIT.failure);
  assert.match(gone.err, /No item with that key in "Reading"/);
});

Deno.test("tern db models lists models with keys, fields and counts", async () => {
  await using t = await setup();
  await t.run("put", "Reading", ITEM);
  const r = await t.run("models");
  assert.equal(r.code, EXIT.ok);
  assert.match(
    r.out,
    /Reading {2}pk "Sensor#\$\{deviceId\}" {2}sk "Reading#\$\{time\}" {2}sync none {2}items 1/,
  );
  assert.match(r.out, /fields: deviceId: string!, time: date!, value: number/);
});

Deno.test("tern db export then import into a fresh state dir restores every item with its metadata", async () => {
  await using t = await setup();
  await t.run("put", "Reading", ITEM);
  await t.run("put", "Reading", ITEM); // version 2
  const exported = await t.run("export");
  assert.equal(exported.code, EXIT.ok);
  const file = join(t.dir, "dump.jsonl");
  await Deno.writeTextFile(file, exported.out + "\n");
  const other = { ...t.flags, state: join(t.dir, "state2") };
  const io = { out: () => {}, err: () => {} };
  assert.equal(await dbCommand.run(["import", file], other, io), EXIT.ok);
  const lines: string[] = [];
  await dbCommand.run(["get", "Reading", KEY], other, { out: (s) => lines.push(s), err: () => {} });
  const item = JSON.parse(lines.join(""));
  assert.deepEqual(item, JSON.parse(exported.out).item);
  assert.equal(item._version, 2);
});

Deno.test("tern db import is all or nothing and names the bad line", async () => {
  await using t = await setup();
  const file = join(t.dir, "bad.jsonl");
  const good = JSON.stringify({ model: "Reading", item: JSON.parse(ITEM) });
  const bad = JSON.stringify({ model: "Reading", item: { ...JSON.parse(ITEM), value: 999 } });
  await Deno.writeTextFile(file, `${good}\n${bad}\n`);
  const r = await t.run("import", file);
  assert.equal(r.code, EXIT.failure);
  assert.match(r.err, /Invalid value for field "value" of "Reading".*\(line 2; nothing imported\)/);
  assert.equal((await t.run("export")).out, "");
  await Deno.writeTextFile(file, `${good}\n{oops\n`);
  await assert.rejects(() => t.run("import", file), (e: unknown) => {
    assert.ok(e instanceof UsageError);
    assert.match(e.message, /Invalid JSON on line 2/);
    return true;
  });
});

Deno.test("tern db rejects bad input with a clear message", async () => {
  await using t = await setup();
  const refused = await t.run("put", "Reading", '{"deviceId":"d1","time":"2024-05-01","valeu":1}');
  assert.equal(refused.code, EXIT.failure);
  assert.equal(refused.err, 'tern db: Unknown field "valeu" in "Reading" (did you mean "value"?)');
  const model = await t.run("get", "Readng", KEY);
  assert.equal(model.err, 'tern db: Unknown model "Readng" (did you mean "Reading"?)');
  for (
    const [args, re] of [
      [["put", "Reading", "{bad"], /Invalid JSON/],
      [["frob"], /Unknown subcommand "frob"/],
      [["get", "Reading"], /Missing argument/],
      [["find", "Reading", "--limit", "x"], /Invalid --limit "x"/],
      [["find", "Reading", "--colour"], /Unknown option "--colour"/],
      [["get", "Reading", KEY, "--limit", "3"], /does not apply/],
    ] as const
  ) {
    await assert.rejects(() => t.run(...args), (e: unknown) => {
      assert.ok(e instanceof UsageError, String(e));
      assert.match(e.message, re);
      return true;
    });
  }
});

Deno.test("schema.json5 model errors are config errors naming file, model and field", async () => {
  await using t = await setup(`{ models: {
    Reading: { pk: "Sensor#\${devId}",
      fields: { deviceId: { type: "string", required: true }, value: { type: "numbr" },
                level: { type: "number", max: 1, default: 5 }, note: { type: "string", requird: true } } },
    _User: { pk: "U#\${n}", fields: { n: { type: "string", required: true } } },
  } }`);
  try {
    loadConfig({ dir: t.flags.config, required: true });
    assert.fail("no ConfigError");
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    const text = e.problems.map((p) => `${p.file} | ${p.path} | ${p.message}`).join("\n");
    assert.match(text, /schema\.json5 \| schema\.models\.Reading\.pk \| .*unknown field "devId"/);
    assert.match(
      text,
      /schema\.models\.Reading\.fields\.value\.type .*expected one of "string", "number"/,
    );
    assert.match(text, /fields\.level\.default .*expected a number ≤ 1, found number 5/);
    assert.match(
      text,
      /Unknown key "schema\.models\.Reading\.fields\.note\.requird" .*did you mean/,
    );
    assert.match(text, /schema\.models\._User .*reserved for system models/);
    assert.ok(e.problems.every((p) => p.file === "schema.json5"));
  }
  await assert.rejects(() => t.run("models"), ConfigError);
});
