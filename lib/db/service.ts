/**
 * The "database" service: opens the database at
 * `resolve(stateDir, config.database.path)` with the models of
 * `config.schema`, runs the purge loop, closes on stop. Other services list
 * "database" in their `deps` and use `ctx.get<DatabaseService>("database").db`
 * (and `db.define("_Name", def)` for their own system models).
 */

import { resolve } from "../path.ts";
import type { Config } from "../config/mod.ts";
import type { Service, ServiceContext, ServiceFactory } from "../service.ts";
import { Database } from "./database.ts";

export class DatabaseService implements Service {
  #ctx: ServiceContext;
  #db: Database | undefined;

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
  }

  /** The open database (throws before start and after stop). */
  get db(): Database {
    if (!this.#db || this.#db.closed) throw new Error("The database service is not running");
    return this.#db;
  }

  start(_signal: AbortSignal): Promise<void> {
    const { config, stateDir, clock, log } = this.#ctx;
    this.#db = Database.open({
      path: resolve(stateDir, config.database.path),
      schema: config.schema.models,
      clock,
      log,
      synchronous: config.database.synchronous,
      purgeInterval: config.database.purgeInterval,
      changeLogLimit: config.database.changeLogLimit,
    });
    log.info("Database open", { path: this.#db.path, models: this.#db.models().length });
    return Promise.resolve();
  }

  /** Schema changes apply live (migrated like at start); database.* changes need a restart. */
  reload(config: Config, changed: string[]): string[] {
    const schema = changed.filter((p) => p === "schema" || p.startsWith("schema."));
    if (schema.length === 0 || !this.#db || this.#db.closed) return [];
    this.#db.applySchema(config.schema.models);
    this.#ctx.log.info("Schema reloaded", { models: Object.keys(config.schema.models) });
    return schema;
  }

  status(): Record<string, unknown> {
    if (!this.#db || this.#db.closed) return { open: false };
    return {
      open: true,
      path: this.#db.path,
      models: this.#db.models().length,
      lastSeq: this.#db.lastSeq(),
      cursors: this.#db.cursors(),
      ...(this.#db.fullSince !== undefined
        ? { storageFull: new Date(this.#db.fullSince).toISOString() }
        : {}),
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.#db?.[Symbol.asyncDispose]();
    } catch (e) {
      this.#ctx.log.warn("Closing the database failed", { error: String(e) });
    }
  }
}

/** Factory for `lib/services.ts`. */
export const databaseService: ServiceFactory = {
  name: "database",
  deps: [],
  enabled: (config) => config.database.enabled,
  create: (ctx) => new DatabaseService(ctx),
};
