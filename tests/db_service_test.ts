/**
 * The "database" service under the real Agent: opens the file in the state
 * dir with the configured models, serves dependents through ctx.get, closes
 * on stop.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Agent } from "../lib/agent.ts";
import { FakeClock } from "../lib/clock.ts";
import { defaultConfig } from "../lib/config/mod.ts";
import { Database, type DatabaseService, databaseService } from "../lib/db/mod.ts";
import { LogHub, RingSink } from "../lib/log/mod.ts";
import type { ServiceFactory } from "../lib/service.ts";
import { SERVICES } from "../services.ts";
import { READING } from "./db_helpers.ts";

Deno.test("the database service opens state/<path> with the schema and serves dependents", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "tern_db_svc_" });
  try {
    assert.ok(SERVICES.includes(databaseService), "registered in the app's services.ts");
    const config = defaultConfig();
    config.database.path = "data/app.db";
    config.schema.models = { Reading: READING } as typeof config.schema.models;
    let seen: Database | undefined;
    const user: ServiceFactory = {
      name: "user",
      deps: ["database"],
      enabled: () => true,
      create: (ctx) => ({
        start() {
          const db = ctx.get<DatabaseService>("database").db;
          db.define("_Session", {
            pk: "Session#${id}",
            fields: { id: { type: "string", generate: "uuid" } },
          });
          db.create("Reading", { deviceId: "d1", time: "2024-05-01" });
          db.create("_Session", {});
          seen = db;
          return Promise.resolve();
        },
        [Symbol.asyncDispose]: () => Promise.resolve(),
      }),
    };
    const ring = new RingSink(100);
    const agent = await Agent.start({
      loaded: { config, configDir: "/nonexistent", stateDir, files: [], secrets: [] },
      factories: [user, databaseService],
      clock: new FakeClock(),
      hub: new LogHub({ sinks: [ring] }),
      ring,
    });
    assert.ok(seen);
    assert.equal(seen.path, join(stateDir, "data/app.db"));
    await agent[Symbol.asyncDispose]();
    assert.equal(seen.closed, true);
    // The data is in the file.
    const db = Database.open({ path: join(stateDir, "data/app.db"), purgeInterval: 0 });
    try {
      assert.equal(
        (db.sql.prepare("SELECT count(*) AS n FROM _items").get() as { n: number }).n,
        2,
      );
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("the database service is off when database.enabled is false", () => {
  const config = defaultConfig();
  assert.equal(databaseService.enabled(config), true);
  config.database.enabled = false;
  assert.equal(databaseService.enabled(config), false);
});

Deno.test("a reloaded schema adds models live; database.* changes need a restart", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "tern_db_svc_" });
  try {
    const config = defaultConfig();
    const ring = new RingSink(100);
    const agent = await Agent.start({
      loaded: { config, configDir: "/nonexistent", stateDir, files: [], secrets: [] },
      factories: [databaseService],
      clock: new FakeClock(),
      hub: new LogHub({ sinks: [ring] }),
      ring,
    });
    try {
      const next = structuredClone(config);
      next.schema.models = { Reading: READING } as typeof config.schema.models;
      next.database.synchronous = "FULL";
      const rest = await agent.reload({
        config: next,
        configDir: "/nonexistent",
        stateDir,
        files: [],
        secrets: [],
      });
      assert.deepEqual(rest, ["database.synchronous"]);
      const db = Database.open({ path: join(stateDir, "tern.db"), purgeInterval: 0 });
      try {
        // The live database recorded the new model in the file.
        const stored = db.sql.prepare("SELECT value FROM _meta WHERE key = 'models'").get() as {
          value: string;
        };
        assert.ok("Reading" in JSON.parse(stored.value));
      } finally {
        db.close();
      }
    } finally {
      await agent[Symbol.asyncDispose]();
    }
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});
