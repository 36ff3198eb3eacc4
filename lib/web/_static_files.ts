/**
 * Building the in-memory file table of the static site: every file of a
 * directory (or a map of name → bytes) with its content type, strong ETag
 * (SHA-256, base64url, 22 chars), Last-Modified, and precompressed `br` and
 * `gzip` variants when they save at least 5 % (text types only). This runs
 * once at start; requests then only pick bytes and preformatted headers.
 */

import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { createHash } from "node:crypto";

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

function tag(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("base64url").slice(0, 22);
}

/** Build one file's table entry. */
export function prepareFile(
  name: string,
  body: Uint8Array<ArrayBuffer>,
  mtime: number,
): StaticFile {
  const type = contentType(name);
  const t = tag(body);
  const secs = Math.floor(mtime / 1000) * 1000;
  const f: StaticFile = {
    type,
    mtime: secs,
    lastModified: new Date(secs).toUTCString(),
    identity: { encoding: "identity", body, etag: `"${t}"` },
  };
  if (COMPRESSIBLE.test(type) && body.length >= 256) {
    const br = new Uint8Array(brotliCompressSync(body, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 11,
        [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
      },
    }));
    if (br.length < body.length * 0.95) f.br = { encoding: "br", body: br, etag: `"${t}-br"` };
    const gz = new Uint8Array(gzipSync(body, { level: 9 }));
    if (gz.length < body.length * 0.95) f.gzip = { encoding: "gzip", body: gz, etag: `"${t}-gz"` };
  }
  return f;
}

/** Read every regular file under `dir` (no symlinks followed) into a table keyed by "/path". */
export function loadDir(dir: string | URL, maxBytes = 64 * 1024 * 1024): Map<string, StaticFile> {
  const out = new Map<string, StaticFile>();
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
        out.set(p, prepareFile(p, body, mtime));
      }
    }
  };
  walk("");
  return out;
}
