/**
 * Schema changes on an existing file: compatible ones migrate without losing
 * data; incompatible ones stop with a clear error and leave the data alone.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Database, DbError, type ModelInput } from "../lib/db/mod.ts";

const BASE: ModelInput = {
  pk: "Dev#${dev}",
  sk: "T#${t}",
  fields: {
    dev: { type: "string", required: true },
    t: { type: "string", required: true },
    v: { type: "number" },
    label: { type: "string" },
  },
};

function withFields(extra: Record<string, unknown>, more: Partial<ModelInput> = {}): ModelInput {
  return { ...BASE, ...more, fields: { ...BASE.fields, ...extra } } as ModelInput;
}

async function withFile(fn: (path: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tern_db_mig_" });
  try {
    await fn(join(dir, "m.db"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function open(path: string, schema: Record<string, ModelInput>): Database {
  return Database.open({ path, schema, purgeInterval: 0 });
}

function seed(path: string): void {
  const db = open(path, { Sample: BASE });
  for (let i = 0; i < 3; i++) db.create("Sample", { dev: "a", t: `0${i}`, v: i, label: `L${i}` });
  db.close();
}

function migrationError(fn: () => unknown): DbError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof DbError, String(e));
    assert.equal(e.code, "migration");
    return e;
  }
  throw new Error("no migration error");
}

Deno.test("adding a model, a field and an index keeps the data and indexes stored items", async () => {
  await withFile((path) => {
    seed(path);
    const db = open(path, {
      Sample: withFields({ extra: { type: "boolean", default: false } }, {
        indexes: { byV: { sk: "${v}" } },
      }),
      Other: { pk: "O#${id}", fields: { id: { type: "string", required: true } } },
    });
    try {
      assert.equal(db.count("Sample"), 3);
      assert.deepEqual(
        db.find("Sample", { dev: "a" }, { index: "byV", reverse: true }).items.map((i) => i.v),
        [2, 1, 0],
      );
      const u = db.update("Sample", { dev: "a", t: "01" }, { label: "x" });
      assert.equal(u.extra, false); // the default fills the new field on the next write
      db.create("Other", { id: "1" });
    } finally {
      db.close();
    }
  });
});

Deno.test("removing an index drops its rows; a model left out of the schema keeps its items", async () => {
  await withFile((path) => {
    const db1 = open(path, { Sample: withFields({}, { indexes: { byV: { sk: "${v}" } } }) });
    db1.create("Sample", { dev: "a", t: "1", v: 1 });
    db1.close();
    const db2 = open(path, { Sample: BASE });
    assert.equal(
      (db2.sql.prepare("SELECT count(*) AS n FROM _index").get() as { n: number }).n,
      0,
    );
    db2.close();
    const db3 = open(path, {});
    db3.close();
    const db4 = open(path, { Sample: BASE });
    assert.equal(db4.count("Sample"), 1);
    db4.close();
  });
});

Deno.test("changing the key of a model with items stops with a clear error and changes nothing", async () => {
  await withFile((path) => {
    seed(path);
    const e = migrationError(() => open(path, { Sample: { ...BASE, sk: "Time#${t}" } }));
    assert.match(e.message, /Cannot change the key of "Sample" .*while it holds 3 item\(s\)/);
    assert.equal(e.model, "Sample");
    const db = open(path, { Sample: BASE });
    assert.equal(db.count("Sample"), 3);
    assert.equal(db.get("Sample", { dev: "a", t: "01" })!.label, "L1");
    db.close();
  });
});

Deno.test("retyping or removing a field that stored items use is refused, naming the field", async () => {
  await withFile((path) => {
    seed(path);
    const retyped = migrationError(() =>
      open(path, { Sample: withFields({ v: { type: "string" } }) })
    );
    assert.equal(retyped.field, "v");
    assert.match(retyped.message, /does not fit 3 of its 3 stored item\(s\)/);
    const { label: _label, ...rest } = BASE.fields as Record<string, unknown>;
    const removed = migrationError(() =>
      open(path, { Sample: { ...BASE, fields: rest } as ModelInput })
    );
    assert.equal(removed.field, "label");
    const required = migrationError(() =>
      open(path, { Sample: withFields({ must: { type: "string", required: true } }) })
    );
    assert.equal(required.field, "must");
    // A new required field with a default is fine.
    open(path, { Sample: withFields({ must: { type: "string", required: true, default: "x" } }) })
      .close();
  });
});

Deno.test("any change is allowed while a model holds no items", async () => {
  await withFile((path) => {
    open(path, { Sample: BASE }).close();
    const db = open(path, { Sample: { ...BASE, sk: "Other#${t}" } });
    db.create("Sample", { dev: "a", t: "1" });
    assert.equal(db.find("Sample", { dev: "a" }).items.length, 1);
    db.close();
  });
});

Deno.test("a layout from another Tern version is refused", async () => {
  await withFile((path) => {
    open(path, {}).close();
    const db = open(path, {});
    db.sql.exec("UPDATE _meta SET value = '99' WHERE key = 'format'");
    db.close();
    const e = migrationError(() => open(path, {}));
    assert.match(e.message, /layout 99/);
  });
});
