import assert from "node:assert/strict";
import { parseRange, safePath, StaticSite } from "./static.ts";
import { prepareAll } from "./_static_files.ts";
import { WebApp } from "./app.ts";

const enc = new TextEncoder();

const at = 1_700_000_000_000;

function site(): StaticSite {
  const files = new Map();
  const ready = prepareAll([
    {
      path: "/index.html",
      body: enc.encode("<!doctype html><p>hi</p>" + " ".repeat(400)),
      mtime: at,
    },
    { path: "/app.js", body: enc.encode("console.log(1);\n".repeat(100)), mtime: at },
    { path: "/data.bin", body: new Uint8Array(1000).map((_, i) => i % 256), mtime: at },
  ], files);
  return new StaticSite({ files, ready });
}

async function get(path: string, headers: Record<string, string> = {}): Promise<Response> {
  const s = site();
  await s.ready;
  return await s.serve(new Request(`http://x${path}`, { headers }), { path });
}

Deno.test("safePath refuses every traversal form", () => {
  for (
    const bad of [
      "/../etc/passwd",
      "/a/../../x",
      "/%2e%2e/x",
      "/%2E%2E%2Fx",
      "/%252e%252e/x",
      "/..%5c..%5cwin.ini",
      "/a\\..\\b",
      "/x%00.html",
      "/%c0%ae%c0%ae/x",
      "/%e0%80%ae/x",
      "/%ff",
      "/./x",
    ]
  ) {
    assert.equal(safePath(bad), null, bad);
  }
  assert.equal(safePath("/a%20b/c.js"), "/a b/c.js");
});

Deno.test("static serves br, gzip or identity by Accept-Encoding with Vary and a strong ETag", async () => {
  const br = await get("/app.js", { "accept-encoding": "gzip, br" });
  assert.equal(br.headers.get("content-encoding"), "br");
  assert.equal(br.headers.get("vary"), "Accept-Encoding");
  assert.match(br.headers.get("etag")!, /^"[A-Za-z0-9_-]{22}-br"$/);
  const gz = await get("/app.js", { "accept-encoding": "gzip" });
  assert.equal(gz.headers.get("content-encoding"), "gzip");
  const plain = await get("/app.js", { "accept-encoding": "br;q=0" });
  assert.equal(plain.headers.get("content-encoding"), null);
  assert.equal((await plain.text()).length, 1600);
  const unzipped = await new Response(
    (await get("/app.js", { "accept-encoding": "gzip" })).body!.pipeThrough(
      new DecompressionStream("gzip"),
    ),
  ).text();
  assert.equal(unzipped, "console.log(1);\n".repeat(100));
  const unbrotli = await new Response(br.body!.pipeThrough(new DecompressionStream("brotli")))
    .text();
  assert.equal(unbrotli, "console.log(1);\n".repeat(100));
  // The ETag is the SHA-256 of the identity bytes (base64url, 22 characters).
  const digest = new Uint8Array(
    await crypto.subtle.digest(
      "SHA-256",
      new TextEncoder().encode("console.log(1);\n".repeat(100)),
    ),
  );
  assert.equal(
    plain.headers.get("etag"),
    `"${digest.toBase64({ alphabet: "base64url", omitPadding: true }).slice(0, 22)}"`,
  );
});

Deno.test("static answers 304 to a matching If-None-Match and If-Modified-Since", async () => {
  const first = await get("/app.js");
  const etag = first.headers.get("etag")!;
  await first.body?.cancel();
  const r = await get("/app.js", { "if-none-match": `"other", ${etag}` });
  assert.equal(r.status, 304);
  assert.equal(r.body, null);
  const lm = await get("/app.js", { "if-modified-since": first.headers.get("last-modified")! });
  assert.equal(lm.status, 304);
  const stale = await get("/app.js", { "if-none-match": '"nope"' });
  assert.equal(stale.status, 200);
  await stale.body?.cancel();
});

Deno.test("static serves single ranges (206), refuses unsatisfiable ones (416)", async () => {
  const r = await get("/data.bin", { range: "bytes=10-19" });
  assert.equal(r.status, 206);
  assert.equal(r.headers.get("content-range"), "bytes 10-19/1000");
  assert.deepEqual([...new Uint8Array(await r.arrayBuffer())], [
    10,
    11,
    12,
    13,
    14,
    15,
    16,
    17,
    18,
    19,
  ]);
  const suffix = await get("/data.bin", { range: "bytes=-5" });
  assert.equal(suffix.headers.get("content-range"), "bytes 995-999/1000");
  assert.equal((await suffix.arrayBuffer()).byteLength, 5);
  const open = await get("/data.bin", { range: "bytes=990-" });
  assert.equal((await open.arrayBuffer()).byteLength, 10);
  const bad = await get("/data.bin", { range: "bytes=1000-" });
  assert.equal(bad.status, 416);
  assert.equal(bad.headers.get("content-range"), "bytes */1000");
  const multi = await get("/data.bin", { range: "bytes=0-1,5-6" });
  assert.equal(multi.status, 200, "several ranges: whole file");
  await multi.body?.cancel();
  const ifRange = await get("/data.bin", { range: "bytes=0-1", "if-range": '"stale"' });
  assert.equal(ifRange.status, 200);
  await ifRange.body?.cancel();
  assert.deepEqual(parseRange("bytes=5-2", 10), null);
  assert.deepEqual(parseRange("bytes=-0", 10), "unsatisfiable");
});

Deno.test("static falls back to index.html for app paths, not for API or file paths", async () => {
  const spa = await get("/settings/network");
  assert.equal(spa.status, 200);
  assert.match(await spa.text(), /<p>hi<\/p>/);
  assert.equal((await get("/api/nothing")).status, 404);
  assert.equal((await get("/missing.png")).status, 404);
  assert.equal((await get("/%2e%2e/etc/passwd")).status, 400);
});

/** `read()` until it stops giving `old` (the watcher's event arrives within ms; 2 s at most). */
async function until<T>(read: () => Promise<T>, old: T): Promise<T> {
  const end = Date.now() + 2000;
  let v = await read();
  while (v === old && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 10));
    v = await read();
  }
  return v;
}

Deno.test("documents directory on disk: served with the same headers, symlinks out refused", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/docs`);
    await Deno.writeTextFile(`${root}/docs/manual.txt`, "read me\n".repeat(100));
    await Deno.writeTextFile(`${root}/secret.txt`, "top secret");
    await Deno.symlink(`${root}/secret.txt`, `${root}/docs/link.txt`);
    using s = new StaticSite({ files: new Map(), documents: `${root}/docs`, spa: false });
    const get = (path: string, headers: Record<string, string> = {}) =>
      s.serve(new Request(`http://x${path}`, { headers }), { path });
    const ok = await get("/docs/manual.txt", { "accept-encoding": "gzip" });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("content-encoding"), "gzip");
    assert.match(ok.headers.get("etag")!, /^"/);
    await ok.body?.cancel();
    const link = await get("/docs/link.txt");
    assert.equal(link.status, 404, "a symlink leading out of the directory is not followed");
    assert.doesNotMatch(await link.text(), /secret/);
    assert.equal((await get("/docs/..%2fsecret.txt")).status, 400);
    assert.equal((await get("/docs/../secret.txt")).status, 400);
    // Kept in memory while unchanged (answered synchronously); a change the directory's watcher
    // reports makes the next request check the file, and a changed one is served anew.
    const first = await (await get("/docs/manual.txt")).text();
    const kept = get("/docs/manual.txt");
    assert.ok(kept instanceof Response, "kept: answered from memory");
    await kept.body?.cancel();
    await Deno.writeTextFile(`${root}/docs/manual.txt`, "edition 2\n");
    await Deno.utime(`${root}/docs/manual.txt`, new Date(), new Date(Date.now() + 5000));
    const changed = await until(async () => await (await get("/docs/manual.txt")).text(), first);
    assert.equal(changed, "edition 2\n", "changed on disk: served anew");
    await Deno.remove(`${root}/docs/manual.txt`);
    const gone = await until(async () => (await get("/docs/manual.txt")).status, 200);
    assert.equal(gone, 404, "a removed file is gone");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("documents kept in memory: the byte count follows the table through edits, races and removal", async () => {
  const root = await Deno.makeTempDir();
  try {
    const docs = `${root}/docs`;
    await Deno.mkdir(docs);
    const write = async (name: string, bytes: number, at: number) => {
      await Deno.writeFile(`${docs}/${name}`, new Uint8Array(bytes).fill(97));
      await Deno.utime(`${docs}/${name}`, at, at); // a distinct mtime per edition
    };
    await write("a.bin", 1000, 1000);
    await write("b.bin", 3000, 1000);
    using s = new StaticSite({ files: new Map(), documents: docs, spa: false });
    const get = async (path: string) => {
      const res = await s.serve(new Request(`http://x${path}`), { path });
      await res.body?.cancel();
      return res.status;
    };
    assert.equal(await get("/docs/a.bin"), 200);
    assert.equal(await get("/docs/b.bin"), 200);
    assert.deepEqual(s.documentsKept, { files: 2, bytes: 4000 });
    // A new edition, looked at by two requests at once: counted once.
    await write("a.bin", 1500, 2000);
    await until(async () => (await get("/docs/a.bin"), s.documentsKept.bytes), 4000);
    await write("a.bin", 1700, 3000);
    await until(async () => {
      await Promise.all([get("/docs/a.bin"), get("/docs/a.bin")]);
      return s.documentsKept.bytes;
    }, 4500);
    assert.deepEqual(s.documentsKept, { files: 2, bytes: 4700 });
    // Grown past 1 MB: served, no longer kept (its old edition is dropped, not left stale).
    await write("a.bin", 1024 * 1024 + 1, 4000);
    await until(async () => (await get("/docs/a.bin"), s.documentsKept.files), 2);
    assert.deepEqual(s.documentsKept, { files: 1, bytes: 3000 });
    await Deno.remove(`${docs}/b.bin`);
    assert.equal(await until(() => get("/docs/b.bin"), 200), 404);
    assert.deepEqual(s.documentsKept, { files: 0, bytes: 0 });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("Cache-Control by path prefix, longest first, html and assets otherwise", async () => {
  const files = await prepareAll([
    { path: "/index.html", body: enc.encode("<p>x</p>"), mtime: 0 },
    { path: "/assets/app.1234.js", body: enc.encode("1"), mtime: 0 },
    { path: "/assets/live/feed.json", body: enc.encode("{}"), mtime: 0 },
    { path: "/other.css", body: enc.encode("a{}"), mtime: 0 },
  ]);
  const s = new StaticSite({
    files,
    cache: { "/assets/": "public, max-age=31536000, immutable", "/assets/live/": "no-store" },
  });
  const cc = async (path: string) => {
    const r = await s.serve(new Request(`http://x${path}`), { path });
    await r.body?.cancel();
    return r.headers.get("cache-control");
  };
  assert.equal(await cc("/assets/app.1234.js"), "public, max-age=31536000, immutable");
  assert.equal(await cc("/assets/live/feed.json"), "no-store");
  assert.equal(await cc("/other.css"), "public, max-age=300");
  assert.equal(await cc("/some/app/route"), "no-cache", "SPA fallback is index.html's policy");
  assert.equal(await cc("/"), "no-cache");
});

Deno.test("a large file is sent whole or ranged, the shared bytes never detached", async () => {
  const big = new Uint8Array(100_000).map((_, i) => (i * 7) & 255);
  const s = new StaticSite({
    files: await prepareAll([{ path: "/big.bin", body: big, mtime: at }]),
  });
  const serve = (headers: Record<string, string> = {}) =>
    s.serve(new Request("http://x/big.bin", { headers }), { path: "/big.bin" });
  const whole = await serve();
  assert.equal(whole.status, 200);
  assert.deepEqual(new Uint8Array(await whole.arrayBuffer()), big);
  const part = await serve({ range: "bytes=50000-99999" });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get("content-range"), "bytes 50000-99999/100000");
  assert.deepEqual(new Uint8Array(await part.arrayBuffer()), big.subarray(50000));
  // HEAD over the wire: the app answers it with the GET answer, the runtime sends its headers
  // (with the length of the body it then drops).
  const app = new WebApp();
  app.fallback = s.serve;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (r) => app.request(r),
  );
  try {
    for (
      const [range, status, len] of [[undefined, 200, "100000"], ["bytes=0-9", 206, "10"]] as const
    ) {
      const head = await fetch(`http://127.0.0.1:${server.addr.port}/big.bin`, {
        method: "HEAD",
        headers: range ? { range } : {},
      });
      assert.equal(head.status, status);
      assert.equal((await head.arrayBuffer()).byteLength, 0);
      assert.equal(head.headers.get("content-length"), len, "HEAD tells the GET length");
    }
  } finally {
    await server.shutdown();
  }
  // The in-memory bytes are shared, never detached: a second answer is whole again.
  assert.deepEqual(new Uint8Array(await (await serve()).arrayBuffer()), big);
});

Deno.test("every answer of a file is whole: one answer read does not consume the next", async () => {
  const body = new Uint8Array(4096).map((_, i) => i & 255);
  const files = await prepareAll([{ path: "/x.bin", body, mtime: at }]);
  const site = new StaticSite({ files });
  const get = () => site.serve(new Request("http://x/x.bin"), { path: "/x.bin" }) as Response;
  const a = get(), b = get();
  assert.deepEqual(new Uint8Array(await a.arrayBuffer()), body);
  assert.deepEqual(new Uint8Array(await b.arrayBuffer()), body);
  assert.deepEqual(new Uint8Array(await get().arrayBuffer()), body);
  assert.equal(get().headers.get("etag"), a.headers.get("etag"));
});

Deno.test("documentHeaders: an HTML answer carries CSP and friends once, built in; CSS only nosniff", async () => {
  const { WebApp } = await import("./app.ts");
  const app = new WebApp({ csp: "default-src 'self'" });
  const files = await prepareAll([
    { path: "/index.html", body: enc.encode("<p>x</p>"), mtime: at },
    { path: "/s.css", body: enc.encode("p{}"), mtime: at },
  ]);
  const site = new StaticSite({ files, documentHeaders: app.securityHeaders.documentHeaders });
  app.fallback = site.serve;
  const html = await app.request(new Request("http://x/index.html"));
  assert.equal(html.headers.get("content-security-policy"), "default-src 'self'");
  assert.equal(html.headers.get("x-frame-options"), "DENY");
  assert.equal(html.headers.get("x-content-type-options"), "nosniff", "once, not twice");
  const css = await app.request(new Request("http://x/s.css"));
  assert.equal(css.headers.get("content-security-policy"), null);
  assert.equal(css.headers.get("x-content-type-options"), "nosniff");
  const tls = await app.request(new Request("https://x/s.css"), {
    remoteAddr: "::1",
    secure: true,
  });
  assert.equal(
    tls.headers.get("strict-transport-security"),
    "max-age=31536000",
    "TLS still adds HSTS",
  );
});

Deno.test("build-time variants: siblings named by the manifest are served as they are; a changed source is compressed at start", async () => {
  const { precompress } = await import("./_static_files.ts");
  const html = enc.encode("<!doctype html><p>precompressed</p>" + " ".repeat(600));
  const sources = [
    { path: "/index.html", body: html, mtime: at },
    // A download that merely ends in .gz: no "/logs.tar" beside it, so it is a file of its own.
    { path: "/logs.tar.gz", body: new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3]), mtime: at },
  ];
  const built = await precompress(sources);
  assert.deepEqual([...built.keys()].sort(), [
    "/.precompressed.json",
    "/index.html.br",
    "/index.html.gz",
  ]);
  // Mark the gzip sibling so the test can tell it from bytes compressed at start: another
  // MTIME in its header decompresses to the same text but differs from ours byte for byte.
  const marked = new Uint8Array([...built.get("/index.html.gz")!]);
  marked[4] = marked[4]! ^ 0x42;
  const files = [
    ...sources,
    ...[...built].map(([path, body]) => ({ path, body, mtime: at })),
    { path: "/index.html.gz", body: marked, mtime: at },
  ].filter((f, i, all) => all.findLastIndex((g) => g.path === f.path) === i);
  const served = async (list: typeof files, enc: string) => {
    const table = await prepareAll(list);
    const s = new StaticSite({ files: table, ready: Promise.resolve(table) });
    await s.ready;
    const path = "/index.html";
    const r = await s.serve(
      new Request(`http://x${path}`, { headers: { "accept-encoding": enc } }),
      { path },
    );
    return { r, bytes: new Uint8Array(await r.arrayBuffer()), table };
  };
  const pre = await served(files, "gzip");
  assert.equal(pre.r.headers.get("content-encoding"), "gzip");
  assert.deepEqual(pre.bytes, marked);
  assert.equal(pre.table.has("/index.html.gz"), false);
  assert.equal(pre.table.has("/.precompressed.json"), false);
  assert.equal(pre.table.has("/logs.tar.gz"), true);
  const br = await served(files, "br");
  assert.deepEqual(br.bytes, built.get("/index.html.br"));

  // The source changed after the build: its tag no longer matches, so it is compressed anew.
  const changed = files.map((f) =>
    f.path === "/index.html"
      ? { ...f, body: enc.encode("<!doctype html><p>changed</p>" + " ".repeat(600)) }
      : f
  );
  const fresh = await served(changed, "gzip");
  assert.notDeepEqual(fresh.bytes, marked);
  const text = await new Response(
    new Blob([fresh.bytes]).stream().pipeThrough(new DecompressionStream("gzip")),
  ).text();
  assert.match(text, /changed/);
});
