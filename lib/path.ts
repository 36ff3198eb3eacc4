/**
 * POSIX path helpers (`resolve`, `join`, `dirname`, `fromFileUrl`) with the
 * semantics of Node's `path.posix`, for an agent that runs on Linux only.
 * `node:path` would load part of Node's compatibility layer into every agent
 * (about 1 MB resident) for four small functions. Checked against
 * `node:path` in lib/path_test.ts.
 */

export const sep = "/";

/** Collapse ".", ".." and repeated slashes; `absolute` paths cannot climb above "/". */
function normalizeParts(path: string, absolute: boolean): string {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!absolute) out.push("..");
    } else out.push(part);
  }
  return out.join("/");
}

/** Normalize a path: "/a//b/../c/" → "/a/c/" (a trailing slash is kept, as in Node). */
export function normalize(path: string): string {
  if (path === "") return ".";
  const absolute = path.startsWith("/");
  const trailing = path.endsWith("/");
  let p = normalizeParts(path, absolute);
  if (p === "" && !absolute) p = ".";
  if (p !== "" && trailing) p += "/";
  return absolute ? `/${p}` : p;
}

/** Join segments with "/" and normalize; "" segments are skipped, no segments is ".". */
export function join(...paths: string[]): string {
  const joined = paths.filter((p) => p !== "").join("/");
  return joined === "" ? "." : normalize(joined);
}

/** The absolute path: segments right to left until one is absolute, then the working directory. */
export function resolve(...paths: string[]): string {
  let resolved = "";
  for (let i = paths.length - 1; i >= 0 && !resolved.startsWith("/"); i--) {
    const p = paths[i]!;
    if (p === "") continue;
    resolved = resolved === "" ? p : `${p}/${resolved}`;
  }
  if (!resolved.startsWith("/")) resolved = `${Deno.cwd()}/${resolved}`;
  return `/${normalizeParts(resolved, true)}`;
}

/** The directory part: "/a/b" → "/a", "a" → ".", "/" → "/" (exactly as Node's). */
export function dirname(path: string): string {
  if (path === "") return ".";
  const rooted = path.charCodeAt(0) === 47;
  // From the end: skip trailing slashes, then the last segment; stop at the slash before it.
  let inName = false;
  for (let i = path.length - 1; i >= 1; i--) {
    if (path.charCodeAt(i) !== 47) inName = true;
    else if (inName) return rooted && i === 1 ? "//" : path.slice(0, i);
  }
  return rooted ? "/" : ".";
}

/** The path of a `file:` URL (percent-decoded). */
export function fromFileUrl(url: string | URL): string {
  const u = typeof url === "string" ? new URL(url) : url;
  if (u.protocol !== "file:") throw new TypeError(`Not a file URL: "${u.href}"`);
  if (u.hostname !== "" && u.hostname !== "localhost") {
    throw new TypeError(`File URL with a host: "${u.href}"`);
  }
  const p = u.pathname;
  if (/%2f/i.test(p)) throw new TypeError(`File URL path with an encoded "/": "${u.href}"`);
  return decodeURIComponent(p);
}
