/**
 * `tern db …`: look at and change the device's data from a shell, with the
 * same validation as the API. Opens the database the agent uses (config dir
 * and state dir from the global flags); safe while the agent runs (SQLite
 * WAL, writes wait up to 5 s for the agent's lock).
 *
 * Exit codes: 0 ok, 64 bad arguments (also malformed JSON), 78 config or
 * schema problem, 1 the database refused (validation, not found, conflict).
 */

import { Database, DbError } from "../db/mod.ts";
import { openFromFlags } from "./_open_db.ts";
import { type CliIo, type Command, EXIT, type GlobalFlags, UsageError } from "./_command.ts";

const USAGE = `Usage: tern db SUBCOMMAND [ARGS]

  models                          list the models: key, fields, indexes, sync, item count
  get MODEL KEY                   print one item
  find MODEL [QUERY] [OPTIONS]    print matching items, one JSON object per line
      --prefix P                  sort key starts with P (after the partition key)
      --index NAME                query a local secondary index
      --limit N                   at most N items (default 100)
      --next CURSOR               continue after the previous page (its cursor is printed to stderr)
      --reverse                   descending sort key order
  put MODEL JSON                  create or replace an item (JSON "-" reads stdin)
  delete MODEL KEY                delete one item
  export [MODEL]                  every item as JSON lines {"model": …, "item": …}
  import [FILE]                   JSON lines from FILE (default stdin); all or nothing

KEY and QUERY are JSON objects of key fields, e.g. '{"deviceId":"d1","time":"2024-05-01T00:00:00Z"}',
or the raw partition key followed by the raw sort key: 'Sensor#d1' 'Reading#2024-05-01T00:00:00.000Z'.

Exit codes: 0 ok, 64 bad arguments, 78 configuration or schema problem, 1 refused by the database.`;

/** Options taking a value, per subcommand. */
const VALUE_OPTS = new Set(["--prefix", "--index", "--limit", "--next"]);
const FLAG_OPTS = new Set(["--reverse"]);

export const dbCommand: Command = {
  name: "db",
  usage: USAGE,
  async run(args: string[], flags: GlobalFlags, io: CliIo): Promise<number> {
    const [sub, ...rest] = args;
    if (sub === undefined) throw new UsageError("Missing subcommand");
    const handler = SUBCOMMANDS[sub];
    if (!handler) {
      throw new UsageError(
        `Unknown subcommand "${sub}" (subcommands: ${Object.keys(SUBCOMMANDS).join(", ")})`,
      );
    }
    const { positional, options } = _parse(rest);
    // Read stdin before opening the database (no lock held while waiting for input).
    const input = await handler.input?.(positional);
    let db: Database | undefined;
    try {
      db = openFromFlags(flags);
      return handler.run(db, positional, options, io, input) ?? EXIT.ok;
    } catch (e) {
      if (e instanceof DbError) {
        io.err(`tern db: ${e.message}`);
        return e.code === "schema" || e.code === "migration" ? EXIT.config : EXIT.failure;
      }
      throw e;
    } finally {
      db?.close();
    }
  },
};

type Options = Record<string, string | true>;

interface Sub {
  input?(positional: string[]): Promise<string | undefined>;
  run(db: Database, positional: string[], options: Options, io: CliIo, input?: string): number;
}

const SUBCOMMANDS: Record<string, Sub> = {
  models: {
    run(db, pos, opts, io) {
      _expect(pos, opts, 0, 0, []);
      for (const m of db.models()) {
        const d = m.def;
        const fields = Object.entries(d.fields).map(([n, f]) =>
          `${n}: ${f.type}${f.required ? "!" : ""}${f.hidden ? " (hidden)" : ""}${
            f.ttl ? " (ttl)" : ""
          }`
        );
        io.out(
          `${m.name}  pk ${JSON.stringify(d.pk)}${d.sk ? `  sk ${JSON.stringify(d.sk)}` : ""}` +
            `  sync ${d.sync}${d.table ? ` → ${d.table}` : ""}  items ${db.count(m.name)}`,
        );
        io.out(`  fields: ${fields.join(", ")}`);
        const idx = Object.entries(d.indexes);
        if (idx.length) {
          io.out(
            `  indexes: ${idx.map(([n, i]) => `${n} (sk ${JSON.stringify(i.sk)})`).join(", ")}`,
          );
        }
        if (d.retention) io.out(`  retention: ${JSON.stringify(d.retention)}`);
      }
      return EXIT.ok;
    },
  },
  get: {
    run(db, pos, opts, io) {
      _expect(pos, opts, 2, 3, []);
      const [model, ...key] = pos as [string, ...string[]];
      const item = db.get(model, _key(key));
      if (!item) throw new DbError("not_found", `No item with that key in "${model}"`, { model });
      io.out(JSON.stringify(item, null, 2));
      return EXIT.ok;
    },
  },
  find: {
    run(db, pos, opts, io) {
      _expect(pos, opts, 1, 3, [...VALUE_OPTS, ...FLAG_OPTS]);
      const [model, ...q] = pos as [string, ...string[]];
      const query: Record<string, unknown> = q.length ? _key(q) : {};
      if (typeof opts["--prefix"] === "string") {
        if (q.length === 2 || ("sk" in query)) {
          throw new UsageError("Give either a raw sort key or --prefix, not both");
        }
        query.sk = { beginsWith: opts["--prefix"] };
      }
      const limit = opts["--limit"] === undefined ? 100 : Number(opts["--limit"]);
      if (!Number.isInteger(limit) || limit < 1) {
        throw new UsageError(`Invalid --limit "${opts["--limit"]}": expected a whole number ≥ 1`);
      }
      const page = db.find(model, query, {
        limit,
        ...(typeof opts["--index"] === "string" ? { index: opts["--index"] } : {}),
        ...(typeof opts["--next"] === "string" ? { next: opts["--next"] } : {}),
        reverse: opts["--reverse"] === true,
      });
      for (const item of page.items) io.out(JSON.stringify(item));
      if (page.next) io.err(`next: ${page.next}`);
      return EXIT.ok;
    },
  },
  put: {
    input: (pos) => pos[1] === "-" ? _readStdin() : Promise.resolve(undefined),
    run(db, pos, opts, io, input) {
      _expect(pos, opts, 2, 2, []);
      const [model, text] = pos as [string, string];
      const item = _json(input ?? text, "JSON");
      if (typeof item !== "object" || item === null || Array.isArray(item)) {
        throw new UsageError("JSON must be an object of fields");
      }
      io.out(JSON.stringify(db.put(model, item as Record<string, unknown>)));
      return EXIT.ok;
    },
  },
  delete: {
    run(db, pos, opts, io) {
      _expect(pos, opts, 2, 3, []);
      const [model, ...key] = pos as [string, ...string[]];
      db.remove(model, _key(key));
      io.err(`Deleted 1 item from "${model}"`);
      return EXIT.ok;
    },
  },
  export: {
    run(db, pos, opts, io) {
      _expect(pos, opts, 0, 1, []);
      let n = 0;
      for (const { model, item } of db.items(pos[0])) {
        io.out(JSON.stringify({ model, item }));
        n++;
      }
      io.err(`Exported ${n} item(s)`);
      return EXIT.ok;
    },
  },
  import: {
    input: (pos) => pos[0] === undefined || pos[0] === "-" ? _readStdin() : _readFile(pos[0]),
    run(db, pos, opts, io, input) {
      _expect(pos, opts, 0, 1, []);
      const lines = (input ?? "").split("\n");
      let n = 0;
      db.transaction(() => {
        lines.forEach((line, i) => {
          if (line.trim() === "") return;
          const where = `line ${i + 1}`;
          let rec: unknown;
          try {
            rec = JSON.parse(line);
          } catch (e) {
            throw new UsageError(`Invalid JSON on ${where}: ${(e as Error).message}`);
          }
          const r = rec as { model?: unknown; item?: unknown };
          if (
            typeof r !== "object" || r === null || typeof r.model !== "string" ||
            typeof r.item !== "object" || r.item === null
          ) {
            throw new UsageError(`Expected {"model": "...", "item": {...}} on ${where}`);
          }
          try {
            db.put(r.model, r.item as Record<string, unknown>, { keepMeta: true });
          } catch (e) {
            if (e instanceof DbError) {
              throw new DbError(e.code, `${e.message} (${where}; nothing imported)`, {
                ...(e.model !== undefined ? { model: e.model } : {}),
                ...(e.field !== undefined ? { field: e.field } : {}),
              });
            }
            throw e;
          }
          n++;
        });
      });
      io.err(`Imported ${n} item(s)`);
      return EXIT.ok;
    },
  },
};

function _parse(args: string[]): { positional: string[]; options: Options } {
  const positional: string[] = [];
  const options: Options = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "-" || !a.startsWith("--")) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (FLAG_OPTS.has(name)) options[name] = true;
    else if (VALUE_OPTS.has(name)) {
      const v = eq > 0 ? a.slice(eq + 1) : args[++i];
      if (v === undefined) throw new UsageError(`Option ${name} needs a value`);
      options[name] = v;
    } else throw new UsageError(`Unknown option "${name}"`);
  }
  return { positional, options };
}

function _expect(pos: string[], opts: Options, min: number, max: number, allowed: string[]) {
  for (const o of Object.keys(opts)) {
    if (!allowed.includes(o)) throw new UsageError(`Option ${o} does not apply here`);
  }
  if (pos.length < min) throw new UsageError(`Missing argument${min - pos.length > 1 ? "s" : ""}`);
  if (pos.length > max) throw new UsageError(`Unexpected argument "${pos[max]}"`);
}

/** A key or query: one JSON object, or raw pk [sk]. */
function _key(parts: string[]): Record<string, unknown> {
  const first = parts[0]!;
  if (first.trimStart().startsWith("{")) {
    if (parts.length > 1) {
      throw new UsageError(`Unexpected argument "${parts[1]}" after a JSON key`);
    }
    const v = _json(first, "key");
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      throw new UsageError("A key must be a JSON object");
    }
    return v as Record<string, unknown>;
  }
  return parts.length > 1 ? { pk: first, sk: parts[1]! } : { pk: first };
}

function _json(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`Invalid ${what}: ${(e as Error).message}`);
  }
}

async function _readStdin(): Promise<string> {
  return await new Response(Deno.stdin.readable).text();
}

async function _readFile(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new UsageError(`Cannot read "${path}": ${(e as Error).message}`);
  }
}
