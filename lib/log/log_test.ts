import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ConsoleSink,
  LogHub,
  type LogRecord,
  REDACTED,
  RingSink,
  RotatingFileSink,
} from "./mod.ts";

function memoryOut() {
  const chunks: string[] = [];
  const dec = new TextDecoder();
  return {
    out: {
      writeSync(p: Uint8Array) {
        chunks.push(dec.decode(p));
        return p.length;
      },
      isTerminal: () => false,
    },
    text: () => chunks.join(""),
  };
}

Deno.test("per-source levels match the longest prefix", () => {
  const ring = new RingSink(100);
  const hub = new LogHub({
    level: "warn",
    sources: { mqtt: "debug", "mqtt.queue": "error" },
    sinks: [ring],
  });
  hub.logger("web").info("web info");
  hub.logger("web").warn("web warn");
  hub.logger("mqtt").debug("mqtt debug");
  hub.logger("mqtt").child("conn").debug("conn debug");
  hub.logger("mqtt").child("queue").warn("queue warn");
  hub.logger("mqtt").child("queue").error("queue error");
  hub.logger("mqttx").info("not a child of mqtt");
  assert.deepEqual(ring.entries().map((r) => r.msg), [
    "web warn",
    "mqtt debug",
    "conn debug",
    "queue error",
  ]);
  assert.equal(hub.logger("mqtt").enabled("debug"), true);
  assert.equal(hub.logger("web").enabled("info"), false);
});

Deno.test("JSON lines off a terminal carry time, level, source, msg and fields", () => {
  const m = memoryOut();
  const hub = new LogHub({ sinks: [new ConsoleSink({ out: m.out })], now: () => 0 });
  hub.logger("web").info("listening", { url: "http://127.0.0.1:8080" });
  assert.equal(
    m.text(),
    '{"time":"1970-01-01T00:00:00.000Z","level":"info","source":"web","msg":"listening","url":"http://127.0.0.1:8080"}\n',
  );
});

Deno.test("text format when asked", () => {
  const m = memoryOut();
  const hub = new LogHub({
    sinks: [new ConsoleSink({ out: m.out, format: "text" })],
    now: () => 0,
  });
  hub.logger("web").warn("slow", { ms: 12 });
  assert.equal(m.text(), "00:00:00.000 WARN  web: slow ms=12\n");
});

Deno.test("secret-named fields and registered secret values are redacted everywhere", () => {
  const m = memoryOut();
  const ring = new RingSink();
  const hub = new LogHub({ sinks: [new ConsoleSink({ out: m.out }), ring] });
  hub.redactor.add("s3cr3t-value-42");
  hub.logger("x").info("connecting with s3cr3t-value-42 now", {
    password: "pw-in-field",
    Authorization: "AWS4-HMAC-SHA256 Credential=abc",
    sessionToken: "tok-123456",
    privateKey: "-----BEGIN",
    nested: { user: "bob", apiKey: "k-999999", note: "has s3cr3t-value-42 inside" },
    error: new Error("auth failed for s3cr3t-value-42"),
    list: ["s3cr3t-value-42"],
  });
  const text = m.text();
  for (
    const secret of [
      "s3cr3t-value-42",
      "pw-in-field",
      "Credential=abc",
      "tok-123456",
      "BEGIN",
      "k-999999",
    ]
  ) {
    assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
  }
  const rec = ring.entries()[0]!;
  assert.equal(rec.msg, `connecting with ${REDACTED} now`);
  assert.equal((rec.fields!.nested as Record<string, unknown>).user, "bob");
  assert.equal((rec.fields!.nested as Record<string, unknown>).apiKey, REDACTED);
  assert.deepEqual(rec.fields!.error, { name: "Error", message: `auth failed for ${REDACTED}` });
});

Deno.test("the rotating file sink keeps maxFiles files of at most maxSize bytes", () => {
  const dir = Deno.makeTempDirSync();
  const path = join(dir, "tern.log");
  const sink = new RotatingFileSink({ path, maxSize: 1000, maxFiles: 3 });
  const rec = (i: number): LogRecord => ({
    time: 0,
    level: "info",
    source: "t",
    msg: `line ${i} ${"x".repeat(80)}`,
  });
  for (let i = 0; i < 100; i++) sink.write(rec(i));
  sink.close();
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assert.deepEqual(names, ["tern.log", "tern.log.1", "tern.log.2"]);
  for (const n of names) {
    assert.ok(Deno.statSync(join(dir, n)).size <= 1000, `${n} too big`);
    assert.equal(Deno.statSync(join(dir, n)).mode! & 0o777, 0o600);
  }
  const last = Deno.readTextFileSync(path).trim().split("\n").at(-1)!;
  assert.equal(JSON.parse(last).msg.split(" ")[1], "99");
  const older = Deno.readTextFileSync(`${path}.2`).trim().split("\n");
  const first = Number(JSON.parse(older[0]!).msg.split(" ")[1]);
  assert.ok(first > 50 && first < 99, `oldest kept line ${first}`);
  // Reopening appends to the current file instead of truncating it.
  const again = new RotatingFileSink({ path, maxSize: 100_000, maxFiles: 3 });
  again.write(rec(100));
  again.close();
  assert.ok(Deno.readTextFileSync(path).includes("line 99"));
  assert.ok(Deno.readTextFileSync(path).includes("line 100"));
});

Deno.test("the ring keeps the last records and filters by level and source", () => {
  const ring = new RingSink(10);
  const hub = new LogHub({ level: "debug", sinks: [ring] });
  for (let i = 0; i < 25; i++) hub.logger(i % 2 ? "web" : "db").debug(`m${i}`);
  hub.logger("web").error("boom");
  assert.equal(ring.entries().length, 10);
  assert.equal(ring.written, 26);
  assert.deepEqual(ring.entries({ level: "error" }).map((r) => r.msg), ["boom"]);
  assert.deepEqual(ring.entries({ source: "db", limit: 2 }).map((r) => r.msg), ["m22", "m24"]);
});

Deno.test("a failing sink does not stop the others", () => {
  const ring = new RingSink();
  const hub = new LogHub({
    sinks: [{
      write: () => {
        throw new Error("disk full");
      },
    }, ring],
  });
  hub.logger("x").info("still logged");
  assert.equal(ring.entries()[0]!.msg, "still logged");
});
