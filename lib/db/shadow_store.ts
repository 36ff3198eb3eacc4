/**
 * The local copy of every shadow, in the agent's SQLite file (table
 * `_shadow`, one row per thing and shadow; the classic shadow has name ""):
 *
 * | column    | meaning                                                             |
 * |-----------|---------------------------------------------------------------------|
 * | desired   | JSON: the device's copy of desired                                 |
 * | reported  | JSON: the device's reported state (what it wants the cloud to hold) |
 * | base      | JSON `{desired, reported}`: the last document synced with the cloud |
 * | version   | the cloud version `base` is at (0: never synced)                    |
 * | exists    | 1 while the cloud shadow exists (as far as the device knows)        |
 * | synced    | ms since epoch of the last accepted exchange (0: never)             |
 *
 * What must still reach the cloud is not stored separately: it is
 * `diff(base, local)`, so offline changes coalesce by construction (only the
 * latest value of each field, in one update). Each write is one statement,
 * committed before the caller is told "done". It lives with the database's
 * other agent tables (lib/db); the shadow sync (lib/cloud/shadow) uses it.
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
/** A shadow state section (`desired` or `reported`): a JSON object. */
type State = Record<string, unknown>;

export interface ShadowRow {
  desired: State;
  reported: State;
  base: { desired: State; reported: State };
  version: number;
  exists: boolean;
  synced: number;
}

const CREATE = `CREATE TABLE IF NOT EXISTS _shadow (
  thing TEXT NOT NULL, name TEXT NOT NULL,
  desired TEXT NOT NULL, reported TEXT NOT NULL, base TEXT NOT NULL,
  version INTEGER NOT NULL, "exists" INTEGER NOT NULL, synced INTEGER NOT NULL,
  PRIMARY KEY (thing, name)) WITHOUT ROWID`;

export class ShadowStore {
  readonly #db: DatabaseSync;
  readonly #get: StatementSync;
  readonly #put: StatementSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
    db.exec(CREATE);
    this.#get = db.prepare(
      `SELECT desired, reported, base, version, "exists", synced FROM _shadow WHERE thing = ? AND name = ?`,
    );
    this.#put = db.prepare(
      `INSERT OR REPLACE INTO _shadow (thing, name, desired, reported, base, version, "exists", synced)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  /** The stored copy, or an empty never-synced one. */
  load(thing: string, name: string): ShadowRow {
    const r = this.#get.get(thing, name) as Record<string, string | number> | undefined;
    if (!r) {
      return {
        desired: {},
        reported: {},
        base: { desired: {}, reported: {} },
        version: 0,
        exists: false,
        synced: 0,
      };
    }
    return {
      desired: JSON.parse(r.desired as string),
      reported: JSON.parse(r.reported as string),
      base: JSON.parse(r.base as string),
      version: Number(r.version),
      exists: Number(r.exists) === 1,
      synced: Number(r.synced),
    };
  }

  /** The copy of shadow `name` of whichever thing has one (the CLI without a configured thing). */
  find(name: string): ShadowRow {
    const r = this.#db.prepare(`SELECT thing FROM _shadow WHERE name = ? LIMIT 1`).get(name) as
      | { thing: string }
      | undefined;
    return this.load(r?.thing ?? "", name);
  }

  save(thing: string, name: string, row: ShadowRow): void {
    this.#put.run(
      thing,
      name,
      JSON.stringify(row.desired),
      JSON.stringify(row.reported),
      JSON.stringify(row.base),
      row.version,
      row.exists ? 1 : 0,
      row.synced,
    );
  }
}
