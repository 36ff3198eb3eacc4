/**
 * Building the in-memory file table of the static site: every file of a
 * directory (or a map of name → bytes) with its content type, strong ETag
 * (SHA-256, base64url, 22 chars), Last-Modified, and precompressed `br` and
 * `gzip` variants when they save at least 5 % (text types only). This runs
 * once at start; requests then only pick bytes and preformatted headers.
 *
 * The variants are made at build time when they can be: `deno task site`
 * (deploy/site.ts) writes `F.br` and `F.gz` beside each file and a manifest,
 * `.precompressed.json`, naming the source tag each pair was made from. At
 * start a file whose tag matches takes its variants from those siblings, so
 * the agent compresses nothing (compressing the site at start costs an idle
 * agent about 3 MB: the compressors' code stays resident). A file changed
 * since, or a site without the manifest, is compressed at start as before.
 *
 * Hashing and compression use the runtime's WebCrypto and `CompressionStream`
 * (brotli and gzip), not `node:crypto` and `node:zlib`: those modules add
 * about 3 MB to an idle agent.
 */

export const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json; charset=utf-8",
  txt: "text/plain; charset=utf-8",
  md: "text/markdown; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  ico: "image/x-icon",
  woff2: "font/woff2",
  wasm: "application/wasm",
  map: "application/json; charset=utf-8",
  pdf: "application/pdf",
  xml: "application/xml; charset=utf-8",
  webmanifest: "application/manifest+json",
};

const COMPRESSIBLE = /^(text\/|application\/(json|javascript|xml|manifest)|image\/svg)/;

/** One representation of a file. */
export interface Variant {
  encoding: "br" | "gzip" | "identity";
  body: Uint8Array<ArrayBuffer>;
  etag: string;
  /** Response headers of a 200, precomputed (the server adds content-length). */
  headers?: [string, string][];
  /** The 200 and 304 answers, built once: each request gets a clone (see lib/web/static.ts). */
  ok?: Response;
  notModified?: Response;
}

/** A file ready to serve. */
export interface StaticFile {
  type: string;
  lastModified: string;
  /** ms since epoch, second precision. */
  mtime: number;
  identity: Variant;
  br?: Variant;
  gzip?: Variant;
}

export function contentType(name: string): string {
  const dot = name.lastIndexOf(".");
  return TYPES[name.slice(dot + 1).toLowerCase()] ?? "application/octet-stream";
}

async function tag(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return digest.toBase64({ alphabet: "base64url", omitPadding: true }).slice(0, 22);
}

async function compress(
  body: Uint8Array<ArrayBuffer>,
  format: "brotli" | "gzip",
): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([body]).stream().pipeThrough(new CompressionStream(format));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The manifest `deno task site` writes beside the files it compressed. */
export const MANIFEST = "/.precompressed.json";

/** One file's entry in the manifest: the tag of the source, and which siblings were written. */
export interface ManifestEntry {
  tag: string;
  br: boolean;
  gzip: boolean;
}

/** Build-time variants of one file, used only while the source's tag is `tag`. */
export interface Precompressed extends ManifestEntry {
  brBody?: Uint8Array<ArrayBuffer>;
  gzipBody?: Uint8Array<ArrayBuffer>;
}

/**
 * Build one file's table entry. The runtime does the hashing and compressing
 * natively (WebCrypto, `CompressionStream`): no hot JavaScript loop over the
 * bytes, so starting the agent does not wake V8's optimizing compiler. With
 * `pre` for the same source (same tag), its variants are used as they are.
 */
export async function prepareFile(
  name: string,
  body: Uint8Array<ArrayBuffer>,
  mtime: number,
  pre?: Precompressed,
): Promise<StaticFile> {
  const type = contentType(name);
  const t = await tag(body);
  const secs = Math.floor(mtime / 1000) * 1000;
  const f: StaticFile = {
    type,
    mtime: secs,
    lastModified: new Date(secs).toUTCString(),
    identity: { encoding: "identity", body, etag: `"${t}"` },
  };
  if (pre?.tag === t) {
    if (pre.brBody) f.br = { encoding: "br", body: pre.brBody, etag: `"${t}-br"` };
    if (pre.gzipBody) f.gzip = { encoding: "gzip", body: pre.gzipBody, etag: `"${t}-gz"` };
  } else if (COMPRESSIBLE.test(type) && body.length >= 256) {
    const [br, gz] = await Promise.all([compress(body, "brotli"), compress(body, "gzip")]);
    if (br.length < body.length * 0.95) f.br = { encoding: "br", body: br, etag: `"${t}-br"` };
    if (gz.length < body.length * 0.95) f.gzip = { encoding: "gzip", body: gz, etag: `"${t}-gz"` };
  }
  return f;
}

/** One file read for the table. */
export interface SourceFile {
  /** "/path" */
  path: string;
  body: Uint8Array<ArrayBuffer>;
  /** ms since the epoch */
  mtime: number;
}

/** Read every regular file under `dir` (no symlinks followed), at most `maxBytes` in all. */
export function readDir(dir: string | URL, maxBytes = 64 * 1024 * 1024): SourceFile[] {
  const out: SourceFile[] = [];
  let total = 0;
  const root = typeof dir === "string" ? dir : decodeURIComponent(dir.pathname);
  const walk = (rel: string) => {
    for (const e of Deno.readDirSync(`${root}${rel}`)) {
      if (e.name.startsWith(".")) continue;
      const p = `${rel}/${e.name}`;
      if (e.isDirectory) walk(p);
      else if (e.isFile) {
        const body = Deno.readFileSync(`${root}${p}`);
        total += body.length;
        if (total > maxBytes) {
          throw new RangeError(`Static site "${root}" exceeds ${maxBytes} bytes`);
        }
        const mtime = Deno.statSync(`${root}${p}`).mtime?.getTime() ?? Date.now();
        out.push({ path: p, body, mtime });
      }
    }
  };
  walk("");
  try {
    out.push({ path: MANIFEST, body: Deno.readFileSync(`${root}${MANIFEST}`), mtime: 0 });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out;
}

/**
 * Prepare files into `into` (keyed by path); resolves when all are in. The
 * manifest and the siblings it names (`F.br`, `F.gz`) become `F`'s variants
 * instead of files of their own; a `.gz` file the manifest does not name
 * (a download) is served as itself.
 */
export async function prepareAll(
  files: readonly SourceFile[],
  into = new Map<string, StaticFile>(),
): Promise<Map<string, StaticFile>> {
  const byPath = new Map(files.map((f) => [f.path, f]));
  const manifest = _manifest(byPath.get(MANIFEST));
  byPath.delete(MANIFEST);
  const pre = new Map<string, Precompressed>();
  for (const [path, entry] of Object.entries(manifest)) {
    const br = entry.br ? byPath.get(`${path}.br`) : undefined;
    const gz = entry.gzip ? byPath.get(`${path}.gz`) : undefined;
    // Every sibling the manifest names must be there; otherwise compress at start.
    if (!byPath.has(path) || (entry.br && !br) || (entry.gzip && !gz)) continue;
    pre.set(path, {
      ...entry,
      ...(br ? { brBody: br.body } : {}),
      ...(gz ? { gzipBody: gz.body } : {}),
    });
    byPath.delete(`${path}.br`);
    byPath.delete(`${path}.gz`);
  }
  await Promise.all(
    [...byPath.values()].map(async (f) =>
      into.set(f.path, await prepareFile(f.path, f.body, f.mtime, pre.get(f.path)))
    ),
  );
  return into;
}

/** The manifest's entries (none when it is missing or not what `deno task site` writes). */
function _manifest(file: SourceFile | undefined): Record<string, ManifestEntry> {
  if (!file) return {};
  try {
    const m = JSON.parse(new TextDecoder().decode(file.body));
    if (m?.version !== 1 || typeof m.files !== "object" || m.files === null) return {};
    const out: Record<string, ManifestEntry> = {};
    for (const [path, e] of Object.entries(m.files as Record<string, Partial<ManifestEntry>>)) {
      if (typeof e?.tag === "string") out[path] = { tag: e.tag, br: !!e.br, gzip: !!e.gzip };
    }
    return out;
  } catch {
    return {};
  }
}

/** The sources among a site's files: not the manifest, not a sibling `F.br`/`F.gz` of an `F`. */
export function siteSources(files: readonly SourceFile[]): SourceFile[] {
  const names = new Set(files.map((f) => f.path));
  return files.filter((f) =>
    f.path !== MANIFEST && !(/\.(br|gz)$/.test(f.path) && names.has(f.path.slice(0, -3)))
  );
}

/**
 * What `deno task site` writes for a directory's files: each compressible
 * file's siblings (`F.br`, `F.gz`, only where they save 5 %) and the manifest
 * naming the tag they were made from. Returns the files to write, by path.
 */
export async function precompress(
  files: readonly SourceFile[],
): Promise<Map<string, Uint8Array<ArrayBuffer>>> {
  const out = new Map<string, Uint8Array<ArrayBuffer>>();
  const entries: Record<string, ManifestEntry> = {};
  for (const f of siteSources(files).sort((a, b) => a.path < b.path ? -1 : 1)) {
    const prepared = await prepareFile(f.path, f.body, f.mtime);
    if (!prepared.br && !prepared.gzip) continue;
    const tag = prepared.identity.etag.slice(1, -1);
    entries[f.path] = { tag, br: !!prepared.br, gzip: !!prepared.gzip };
    if (prepared.br) out.set(`${f.path}.br`, prepared.br.body);
    if (prepared.gzip) out.set(`${f.path}.gz`, prepared.gzip.body);
  }
  const manifest = JSON.stringify({ version: 1, files: entries }, null, 2) + "\n";
  out.set(MANIFEST, new TextEncoder().encode(manifest));
  return out;
}

/** Read and prepare every file under `dir`. */
export function loadDir(dir: string | URL, maxBytes?: number): Promise<Map<string, StaticFile>> {
  return prepareAll(readDir(dir, maxBytes));
}
