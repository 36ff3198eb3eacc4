/**
 * `deno task build`: the agent as one minified, code-split `deno bundle`,
 * which runs in less memory than the TypeScript modules it is made of (Deno
 * keeps every transpiled module's text with its inline source map for the
 * process's life; docs/performance.md, "Memory").
 *
 * Usage:
 *   deno task build                    # dist/agent/: what `deno task start` runs
 *   deno task build --entry device.ts  # dist/device/ and dist/device.js: your own entry point
 *
 * Each bundle holds its entry and every module `later()` loads (lib/later.ts),
 * each as its own file sharing chunks with the rest, so there is one instance
 * of each module; npm packages stay imports, written as deno.json's import map
 * names them (`"mqtt"` becomes `"npm:mqtt@5.16.0"`, `resolveImports`), so a
 * bundle needs no config file: the start task runs it with `--no-config`
 * (about 1 MB less resident: Deno's config discovery and resolver code stay
 * untouched) and still checks its npm packages against agent.lock. A device maker's entry (the
 * README's `device.ts`, any module of the repository that starts the agent
 * when it is evaluated) is bundled behind a generated entry
 * (`.build/entries/NAME.ts`) that first points the agent at the bundle's files
 * (deploy/bundled.ts), and `dist/NAME.js` runs it:
 * `deno run $(deno task tern permissions --bundle dist/NAME) dist/NAME.js`.
 */

import { parseArgs } from "node:util";
import { basename, relative, resolve } from "node:path";
import { LATER_MODULES } from "../lib/later.ts";

/** Where bundles go, relative to the repository root: `dist/NAME/`. */
export const DIST = "dist";

/** The start task's bundle: `dist/agent/`, entry `deploy/agent_entry.ts`. */
export const AGENT = { name: "agent", entry: "deploy/agent_entry.ts" } as const;

/**
 * `--external` values for every bare specifier of the import map (a key
 * ending in "/" maps a prefix: `aws-sdk/` → `aws-sdk/*`), so no npm package
 * is bundled.
 */
export function externals(imports: Record<string, string>): string[] {
  return Object.keys(imports).map((k) => k.endsWith("/") ? `${k}*` : k);
}

/** The `deno bundle` arguments of one bundle of `entry` (relative to the root) into `outdir`. */
export function bundleArgs(
  entry: string,
  outdir: string,
  imports: Record<string, string>,
): string[] {
  return [
    "bundle",
    "--quiet",
    "--platform=deno",
    "--minify",
    "--keep-names",
    "--code-splitting",
    "--packages=external",
    ...externals(imports).map((e) => `--external=${e}`),
    `--outdir=${outdir}`,
    entry,
    ...LATER_MODULES,
  ];
}

/** An import in bundled JavaScript: `from"x"`, `import"x"`, `import("x")` (minified or not). */
const IMPORT = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s*)(["'])([^"'\n]+)\2/g;
/** A package name with an optional subpath: what a bare specifier looks like. */
const BARE = /^(@[a-z0-9][\w.~-]*\/)?[a-z0-9][\w.~-]*(\/[^\s]*)?$/i;

/**
 * `js` with each bare import specifier written as the import map resolves it
 * (`"mqtt"` → `"npm:mqtt@5.16.0"`, `"aws-sdk/clients/s3"` through the prefix
 * key `"aws-sdk/"`), so the bundle runs without deno.json. Throws on a bare
 * specifier the map does not name: it could not resolve at run time either.
 */
export function resolveImports(js: string, imports: Record<string, string>): string {
  return js.replace(IMPORT, (all, lead: string, q: string, spec: string) => {
    if (!BARE.test(spec) || spec.startsWith("node:")) return all;
    let target = imports[spec];
    if (target === undefined) {
      const prefix = Object.keys(imports).filter((k) => k.endsWith("/") && spec.startsWith(k))
        .sort((a, b) => b.length - a.length)[0];
      if (prefix !== undefined) target = imports[prefix] + spec.slice(prefix.length);
    }
    if (target === undefined) {
      throw new Error(`The bundle imports "${spec}", which deno.json's "imports" does not map`);
    }
    return `${lead}${q}${target}${q}`;
  });
}

/** Every `.js` file of the bundle in `dir`, its subdirectories included. */
export function bundleFiles(dir: string): string[] {
  return [...Deno.readDirSync(dir)].flatMap((e) => {
    const path = `${dir}/${e.name}`;
    return e.isDirectory ? bundleFiles(path) : e.name.endsWith(".js") ? [path] : [];
  });
}

/** Rewrite the imports of every file of the bundle in `dir` (see `resolveImports`). */
function resolveBundle(dir: string, imports: Record<string, string>): void {
  for (const path of bundleFiles(dir)) {
    const js = Deno.readTextFileSync(path);
    const out = resolveImports(js, imports);
    if (out !== js) Deno.writeTextFileSync(path, out);
  }
}

/** A device maker's entry: its bundle's name and the generated entry that runs it. */
export interface AppEntry {
  /** `device` for `device.ts`: the bundle is `dist/device/`, run by `dist/device.js`. */
  name: string;
  /** The generated entry, relative to the root (`.build/entries/device.ts`). */
  wrapper: string;
  /** The module `dist/NAME.js` imports, relative to `dist/`. */
  main: string;
}

/**
 * A device maker's entry point, checked: a module of the repository at `root`
 * (its path relative to the root) and the name of what is built from it
 * (`device` for `device.ts`). Throws an `Error` naming the problem.
 */
export function appEntry(root: string, entry: string): { rel: string; name: string } {
  const path = resolve(root, entry);
  const rel = relative(root, path);
  if (rel.startsWith("..") || rel.startsWith("/")) {
    throw new Error(`${entry} is outside the repository (${root}): put your entry next to main.ts`);
  }
  if (!/\.(ts|js)$/.test(rel)) throw new Error(`${entry} is not a .ts or .js module`);
  try {
    if (!Deno.statSync(path).isFile) throw new Error(`${entry} is not a file`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`${entry} does not exist`);
    throw e;
  }
  const name = basename(rel).replace(/\.(ts|js)$/, "");
  if (!/^[A-Za-z0-9_-]+$/.test(name)) {
    throw new Error(`The name "${name}" (from ${entry}) must be letters, digits, - or _`);
  }
  return { rel, name };
}

/** Check `entry` (see `appEntry`) and write the entry that runs it from its bundle. */
export function writeAppEntry(root: string, entry: string): AppEntry {
  const { rel, name } = appEntry(root, entry);
  if (name === AGENT.name) throw new Error(`"${name}" is the start task's bundle: rename ${entry}`);
  const wrapper = `.build/entries/${name}.ts`;
  Deno.mkdirSync(resolve(root, ".build/entries"), { recursive: true });
  Deno.writeTextFileSync(
    resolve(root, wrapper),
    `// Generated by deploy/build.ts: ${rel} run from its bundle, ${DIST}/${name}/.\n` +
      `import { useBundle } from "../../deploy/bundled.ts";\n` +
      `useBundle(new URL("../../", import.meta.url));\n` +
      // Imported after useBundle(): the entry starts the agent when it is evaluated.
      `await import(${JSON.stringify(`../../${rel}`)});\n`,
  );
  return { name, wrapper, main: `./${name}/${wrapper.replace(/\.ts$/, ".js")}` };
}

/** Build one bundle (`entry` given: a device maker's, else the start task's); its directory. */
export async function build(root: string, entry?: string): Promise<string> {
  const app = entry ? writeAppEntry(root, entry) : undefined;
  const name = app?.name ?? AGENT.name;
  const outdir = `${DIST}/${name}`;
  const imports = JSON.parse(Deno.readTextFileSync(resolve(root, "deno.json"))).imports ?? {};
  await Deno.remove(resolve(root, outdir), { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  const out = await new Deno.Command(Deno.execPath(), {
    args: bundleArgs(app?.wrapper ?? AGENT.entry, outdir, imports),
    cwd: root,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`deno bundle failed (exit ${out.code})`);
  resolveBundle(resolve(root, outdir), imports);
  if (app) {
    Deno.writeTextFileSync(
      resolve(root, DIST, `${name}.js`),
      `// Generated by deploy/build.ts: runs ${entry} from ${outdir}/.\nimport ${
        JSON.stringify(app.main)
      };\n`,
    );
  }
  return outdir;
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { entry: { type: "string" } } });
  const root = resolve(new URL("..", import.meta.url).pathname);
  try {
    const outdir = await build(root, values.entry);
    if (values.entry) {
      const name = basename(outdir);
      console.log(
        `Built ${outdir}/. Run it with the permissions your configuration needs (and the start ` +
          `task's runtime flags, docs/building.md):\n` +
          `  deno run $(deno task tern permissions --bundle ${outdir}) ${DIST}/${name}.js`,
      );
    }
  } catch (e) {
    console.error(`deno task build: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
