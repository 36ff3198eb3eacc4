/**
 * The dashboard (`routes/site/`) embedded in a compiled binary. `deno task
 * compile` generates an entry module that calls `embedSite()` with every
 * file of the site (base64) before the CLI starts; the web server then serves
 * those bytes and never reads the site from disk, so the binary needs no read
 * permission for it and does not depend on where the runtime mounts its
 * embedded files. When nothing is embedded (running from source or from the
 * bundle that `deno task start` runs), the site is read from `routes/site/`
 * at start: `siteDir()`, which the bundle's entry points there with
 * `useSiteDir()` (a bundled module's `import.meta.url` is its chunk's).
 */

/** One embedded file. */
export interface EmbeddedFile {
  /** URL path, e.g. "/index.html". */
  path: string;
  bytes: Uint8Array<ArrayBuffer>;
  /** Modification time, ms since the epoch (for Last-Modified). */
  mtime: number;
}

let _files: EmbeddedFile[] | undefined;
let _dir = new URL("../routes/site/", import.meta.url);

/** The directory the site is read from when nothing is embedded. */
export function siteDir(): URL {
  return _dir;
}

/** Read the site from `dir` (the bundle's entry: the repository's `routes/site/`). */
export function useSiteDir(dir: URL): void {
  _dir = dir;
}

/** Register the site's files (called by the generated compile entry). */
export function embedSite(files: { path: string; base64: string; mtime: number }[]): void {
  _files = files.map((f) => {
    const bin = atob(f.base64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return { path: f.path, bytes, mtime: f.mtime };
  });
}

/** The embedded files, or undefined when running from source. */
export function embeddedSite(): readonly EmbeddedFile[] | undefined {
  return _files;
}

/** Forget the embedded files (tests). */
export function clearEmbeddedSite(): void {
  _files = undefined;
}
