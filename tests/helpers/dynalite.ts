/**
 * The `dynalite` DynamoDB emulator in-process on loopback, with its data on
 * disk so it can be stopped (an outage) and started again on the same port
 * with the same data (or in memory with `memory: true`). Optionally fronted by a fault-injecting proxy (a real
 * HTTP hop) that answers with throttling errors or leaves part of a
 * `BatchWriteItem` unprocessed, the way DynamoDB does under load.
 *
 * ```ts
 * await using ddb = await startDynalite({ faults: true });
 * await createSyncTable(ddb.client(), "tern-data");
 * ddb.faults.throttle = 2;        // the next 2 requests: ProvisionedThroughputExceededException
 * ddb.faults.unprocessed = 1;     // the next BatchWriteItem: half of it left unprocessed
 * await ddb.stop(); await ddb.start();
 * ```
 */

import dynalite from "dynalite";
import http from "node:http";
import type net from "node:net";
import { join } from "node:path";
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ScanCommand,
} from "@aws-sdk/client-dynamodb";
import { plainItem } from "./sdk_items.ts";

/** Faults the proxy injects (each counter is decremented per injected fault). */
export interface Faults {
  /** Answer this many requests with 400 ProvisionedThroughputExceededException. */
  throttle: number;
  /** Forward only the first half of this many BatchWriteItem requests; report the rest unprocessed. */
  unprocessed: number;
  /** Requests seen by the proxy, by X-Amz-Target operation. */
  seen: Record<string, number>;
  /** BatchWriteItem puts/deletes with these partition keys are never written (always unprocessed). */
  hold: Set<string>;
  /** Called for each request before it is forwarded (e.g. to stop the emulator mid-sync). */
  onRequest?: (op: string, count: number) => void;
}

export interface DynaliteOptions {
  /** Data directory. @default a new temp dir, removed on dispose */
  path?: string;
  /** Put the fault-injecting proxy in front. @default false */
  faults?: boolean;
  /**
   * Keep the data in memory instead (lost on `stop()`). For tests that never
   * restart the emulator: no native LevelDB iterators are involved, which a
   * client killed mid-request can leave open until teardown. @default false
   */
  memory?: boolean;
}

export interface Dynalite extends AsyncDisposable {
  /** "http://127.0.0.1:PORT" (kept across restarts). */
  readonly endpoint: string;
  readonly port: number;
  readonly path: string;
  readonly running: boolean;
  readonly faults: Faults;
  /** A client for the test's own reads and writes (SDK retries off). */
  client(): DynamoDBClient;
  stop(): Promise<void>;
  start(): Promise<void>;
}

type Server = net.Server & { close(cb?: (err?: Error) => void): unknown };

function _listen(server: net.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

export async function startDynalite(options: DynaliteOptions = {}): Promise<Dynalite> {
  const ownDir = options.path === undefined;
  const path = options.path ?? await Deno.makeTempDir({ prefix: "tern_dynalite_" });
  const faults: Faults = { throttle: 0, unprocessed: 0, hold: new Set(), seen: {} };
  let db: Server | undefined;
  let proxy: http.Server | undefined;
  let dbPort = 0;
  let port = 0;
  const clients: DynamoDBClient[] = [];
  const sockets = new Set<net.Socket>();
  let inflight = 0;

  const start = async () => {
    if (db) return;
    db = dynalite({
      ...(options.memory ? {} : { path: join(path, "data") }),
      createTableMs: 0,
      deleteTableMs: 0,
      updateTableMs: 0,
    }) as unknown as Server;
    // Count requests dynalite is still working on: it keeps going after a client
    // went away, and closing its LevelDB under an open iterator aborts the process.
    db.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
      // dynalite's own handler (the first "request" listener) rethrows any
      // request error: a client killed while sending its body ("aborted",
      // from node:_http_server) would become an uncaught error that fails the
      // test module. Replace it: such a request never reached dynalite's work.
      req.removeAllListeners("error");
      res.on("error", () => {});
      if (res.writableEnded) return;
      inflight++;
      let done = false;
      const finish = () => {
        if (!done) {
          done = true;
          inflight--;
        }
      };
      req.on("error", finish);
      const end = res.end.bind(res) as (...a: unknown[]) => http.ServerResponse;
      res.end = ((...a: unknown[]) => {
        finish();
        return end(...a);
      }) as typeof res.end;
    });
    db.on("connection", (s: net.Socket) => {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    });
    if (!options.faults) {
      port = await _listen(db, port);
      return;
    }
    dbPort = await _listen(db, dbPort);
    proxy = http.createServer((req, res) => {
      req.on("error", () => {});
      _proxy(req, res, dbPort, faults).catch(() => res.destroy());
    });
    proxy.on("connection", (s: net.Socket) => {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    });
    port = await _listen(proxy, port);
  };

  const stop = async () => {
    const [d, p] = [db, proxy];
    db = proxy = undefined;
    // Stop accepting, let dynalite finish what it started (bounded), then cut the connections.
    const closed = [
      p ? new Promise<void>((r) => p.close(() => r())) : undefined,
      d ? new Promise<void>((r) => d.close(() => r())) : undefined,
    ];
    for (const end = Date.now() + 3000; inflight > 0 && Date.now() < end;) {
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const s of sockets) s.destroy();
    sockets.clear();
    await closed[0];
    await closed[1];
  };

  await start();
  return {
    get endpoint() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    path,
    get running() {
      return db !== undefined;
    },
    faults,
    client() {
      const c = new DynamoDBClient({
        region: "us-east-1",
        endpoint: `http://127.0.0.1:${port}`,
        credentials: { accessKeyId: "test", secretAccessKey: "test" },
        maxAttempts: 1,
      });
      clients.push(c);
      return c;
    },
    stop,
    start,
    async [Symbol.asyncDispose]() {
      for (const c of clients) c.destroy();
      await stop();
      if (ownDir) await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

async function _proxy(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  dbPort: number,
  faults: Faults,
): Promise<void> {
  const chunks: Uint8Array[] = [];
  for await (const c of req) chunks.push(c as Uint8Array);
  let body = new TextDecoder().decode(concat(chunks));
  const target = String(req.headers["x-amz-target"] ?? "");
  const op = target.split(".").pop() ?? "";
  faults.seen[op] = (faults.seen[op] ?? 0) + 1;
  faults.onRequest?.(op, faults.seen[op]);
  if (res.destroyed || req.socket.destroyed) return;
  const reply = (status: number, json: unknown) => {
    res.writeHead(status, { "content-type": "application/x-amz-json-1.0" });
    res.end(JSON.stringify(json));
  };
  if (faults.throttle > 0) {
    faults.throttle--;
    return reply(400, {
      __type: "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
      message: "Injected throttling",
    });
  }
  let left: Record<string, unknown[]> | undefined;
  if (op === "BatchWriteItem" && (faults.unprocessed > 0 || faults.hold.size > 0)) {
    const half = faults.unprocessed > 0;
    if (half) faults.unprocessed--;
    const parsed = JSON.parse(body) as { RequestItems: Record<string, _Req[]> };
    left = {};
    for (const [table, all] of Object.entries(parsed.RequestItems)) {
      const held = all.filter((r) => faults.hold.has(_pk(r)));
      const reqs = all.filter((r) => !faults.hold.has(_pk(r)));
      const keep = half ? Math.ceil(reqs.length / 2) : reqs.length;
      const rest = [...reqs.slice(keep), ...held];
      if (rest.length) left[table] = rest;
      parsed.RequestItems[table] = reqs.slice(0, keep);
      if (keep === 0) delete parsed.RequestItems[table];
    }
    body = JSON.stringify(parsed);
    if (Object.keys(parsed.RequestItems).length === 0) {
      return reply(200, { UnprocessedItems: left });
    }
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (typeof v === "string" && k !== "content-length" && k !== "host") headers[k] = v;
  }
  try {
    const r = await fetch(`http://127.0.0.1:${dbPort}/`, { method: "POST", headers, body });
    let text = await r.text();
    if (left && r.ok) {
      const out = JSON.parse(text);
      out.UnprocessedItems = { ...(out.UnprocessedItems ?? {}), ...left };
      text = JSON.stringify(out);
    }
    res.writeHead(r.status, { "content-type": r.headers.get("content-type") ?? "" });
    res.end(text);
  } catch {
    res.destroy();
  }
}

type _Req = {
  PutRequest?: { Item: Record<string, { S?: string }> };
  DeleteRequest?: { Key: Record<string, { S?: string }> };
};

function _pk(r: _Req): string {
  return (r.PutRequest?.Item ?? r.DeleteRequest?.Key)?.pk?.S ?? "";
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Create a table in Tern's layout: key pk/sk, index `index` on _to + updated. */
export async function createSyncTable(
  client: DynamoDBClient,
  table: string,
  index = "tern-down",
): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [
        { AttributeName: "pk", AttributeType: "S" },
        { AttributeName: "sk", AttributeType: "S" },
        { AttributeName: "_to", AttributeType: "S" },
        { AttributeName: "updated", AttributeType: "S" },
      ],
      KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }, {
        AttributeName: "sk",
        KeyType: "RANGE",
      }],
      GlobalSecondaryIndexes: [{
        IndexName: index,
        KeySchema: [{ AttributeName: "_to", KeyType: "HASH" }, {
          AttributeName: "updated",
          KeyType: "RANGE",
        }],
        Projection: { ProjectionType: "ALL" },
      }],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
  // Wait until the table and its index are ACTIVE (writes to a CREATING table fail).
  for (let i = 0; i < 200; i++) {
    const d = await client.send(new DescribeTableCommand({ TableName: table }));
    const t = d.Table;
    if (
      t?.TableStatus === "ACTIVE" &&
      (t.GlobalSecondaryIndexes ?? []).every((g) => g.IndexStatus === "ACTIVE")
    ) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`Table "${table}" did not become ACTIVE`);
}

/** Every item of a table as JSON, sorted by pk then sk. */
export async function scanTable(
  client: DynamoDBClient,
  table: string,
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let start: Record<string, never> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: table, ...(start ? { ExclusiveStartKey: start } : {}) }),
    );
    for (const item of page.Items ?? []) out.push(plainItem(item));
    start = page.LastEvaluatedKey as typeof start;
  } while (start);
  return out.sort((a, b) =>
    String(a.pk).localeCompare(String(b.pk)) || String(a.sk).localeCompare(String(b.sk))
  );
}
