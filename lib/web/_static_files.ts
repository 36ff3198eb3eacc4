/**
 * Building the in-memory file table of the static site: every file of a
 * directory (or a map of name → bytes) with its content type, strong ETag
 * (SHA-256, base64url, 22 chars), Last-Modified, and precompressed `br` and
 * `gzip` variants when they save at least 5 % (text types only). This runs
 * once at start; requests then only pick bytes and preformatted headers.
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

/**
 * Build one file's table entry. The runtime does the hashing and compressing
 * natively (WebCrypto, `CompressionStream`): no hot JavaScript loop over the
 * bytes, so starting the agent does not wake V8's optimizing compiler.
 */
export async function prepareFile(
  name: string,
  body: Uint8Array<ArrayBuffer>,
  mtime: number,
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
  if (COMPRESSIBLE.test(type) && body.length >= 256) {
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
        // Skip precompressed siblings written by a build step: we compress ourselves.
        if (/\.(br|gz)$/.test(e.name)) continue;
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
  return out;
}

/** Prepare files into `into` (keyed by path); resolves when all are in. */
export async function prepareAll(
  files: readonly SourceFile[],
  into = new Map<string, StaticFile>(),
): Promise<Map<string, StaticFile>> {
  await Promise.all(
    files.map(async (f) => into.set(f.path, await prepareFile(f.path, f.body, f.mtime))),
  );
  return into;
}

/** Read and prepare every file under `dir`. */
export function loadDir(dir: string | URL, maxBytes?: number): Promise<Map<string, StaticFile>> {
  return prepareAll(readDir(dir, maxBytes));
}
