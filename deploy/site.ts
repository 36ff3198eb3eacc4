/**
 * `deno task site`: compress the dashboard (`routes/site/`) at build time.
 * Beside each text file it writes `F.br` and `F.gz` (where they save 5 %)
 * and `.precompressed.json`, the manifest naming the source tag (SHA-256)
 * each pair was made from; the agent then serves those bytes and compresses
 * nothing at start (lib/web/_static_files.ts). Siblings of files that no
 * longer need them are removed. The outputs are committed, so `deno task
 * start` on a fresh clone serves them; `deno task compile` embeds them.
 *
 *   deno task site            # write routes/site/*.br, *.gz, .precompressed.json
 *   deno task site --check    # exit 1 naming what is stale (run by the tests)
 */

import { MANIFEST, precompress, readDir } from "../lib/web/_static_files.ts";

/**
 * What is out of date under `dir`: manifest entries whose tag is not their
 * source's, missing or extra entries, siblings that do not decompress to
 * their source, and siblings the manifest no longer names. Compressed bytes
 * are compared by what they decompress to, so another compressor version
 * (a Deno upgrade) is not "stale".
 */
export async function staleOutputs(dir: string): Promise<string[]> {
  const files = readDir(dir);
  const expected = await precompress(files);
  const current = new Map(files.map((f) => [f.path, f.body]));
  const manifest = (bytes: Uint8Array | undefined) => {
    try {
      return JSON.stringify(JSON.parse(new TextDecoder().decode(bytes)).files);
    } catch {
      return "";
    }
  };
  const stale: string[] = [];
  if (manifest(current.get(MANIFEST)) !== manifest(expected.get(MANIFEST))) stale.push(MANIFEST);
  for (const p of expected.keys()) {
    if (p === MANIFEST) continue;
    const got = current.get(p);
    const source = current.get(p.slice(0, -3))!;
    if (!got || !_same(await _decompress(got, p.endsWith(".br") ? "brotli" : "gzip"), source)) {
      stale.push(p);
    }
  }
  return stale.concat(orphans(files.map((f) => f.path), expected));
}

/** Siblings (`F.br`, `F.gz` beside an `F`) that the new outputs do not include. */
function orphans(paths: string[], outputs: Map<string, unknown>): string[] {
  const names = new Set(paths);
  return paths.filter((p) => /\.(br|gz)$/.test(p) && names.has(p.slice(0, -3)) && !outputs.has(p));
}

async function _decompress(bytes: Uint8Array<ArrayBuffer>, format: "brotli" | "gzip") {
  try {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream(format));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch {
    return undefined;
  }
}

function _same(a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (!a || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Write the outputs under `dir` and remove orphaned siblings; returns how many files were compressed. */
export async function buildSite(dir: string): Promise<number> {
  const files = readDir(dir);
  const outputs = await precompress(files);
  for (const p of orphans(files.map((f) => f.path), outputs)) Deno.removeSync(`${dir}${p}`);
  for (const [p, bytes] of outputs) Deno.writeFileSync(`${dir}${p}`, bytes);
  return Object.keys(JSON.parse(new TextDecoder().decode(outputs.get(MANIFEST))).files).length;
}

if (import.meta.main) {
  const dir = new URL("../routes/site", import.meta.url).pathname;
  if (Deno.args.includes("--check")) {
    const stale = await staleOutputs(dir);
    if (stale.length) {
      console.error(
        `routes/site: stale build outputs (run \`deno task site\`): ${stale.join(", ")}`,
      );
      Deno.exit(1);
    }
    console.log("routes/site: build outputs are current");
  } else {
    console.log(`routes/site: ${await buildSite(dir)} file(s) precompressed`);
  }
}
