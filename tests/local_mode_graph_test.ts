/**
 * What a local-mode agent loads: the modules `main.ts` reaches through
 * static runtime imports (type-only and dynamic imports left out; cloud
 * services are loaded later by name, lib/later.ts) use no Node built-in but `node:sqlite` and no
 * npm package at all. A Node built-in wakes Deno's Node compatibility
 * layer (about 6 MB of idle memory: `node:fs` and `node:os` in the metrics
 * barrel did, docs/performance.md); an npm package, the npm resolver. Nor
 * does it load the cloud spool: the audit trail records in local mode and
 * loads its destinations (and the spool) only when shipping is on.
 */

import assert from "node:assert/strict";

interface Graph {
  modules: {
    specifier: string;
    dependencies?: { specifier: string; isDynamic?: boolean; code?: { specifier?: string } }[];
  }[];
  redirects?: Record<string, string>;
}

Deno.test("a local-mode agent's runtime imports: no Node built-in but node:sqlite, no npm package", async () => {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "null",
  }).output();
  assert.equal(r.code, 0);
  const graph = JSON.parse(new TextDecoder().decode(r.stdout)) as Graph;
  const byUrl = new Map(graph.modules.map((m) => [m.specifier, m]));
  const root = graph.modules.find((m) => m.specifier.endsWith("/main.ts"))!.specifier;
  const seen = new Set<string>([root]);
  const external = new Map<string, string>();
  const queue = [root];
  while (queue.length) {
    const m = byUrl.get(queue.pop()!);
    for (const d of m?.dependencies ?? []) {
      const target = d.code?.specifier;
      // Type-only imports are never evaluated; a dynamic import loads when its code runs
      // (the process.env shim's node:process, with the first cloud service).
      if (!target || d.isDynamic) continue;
      if (/^(node|npm):/.test(target) || !target.startsWith("file:")) {
        if (!target.startsWith("file:")) external.set(target, m!.specifier);
        continue;
      }
      if (!seen.has(target)) {
        seen.add(target);
        queue.push(target);
      }
    }
  }
  const names = [...external.keys()].map((s) => s.replace(/^npm:\/?([^@]+@?[^@/]*).*$/, "npm:$1"));
  const unexpected = [...external].filter(([s]) => s !== "node:sqlite").map(([s, from]) =>
    `${s} (from ${from.replace(/^.*\/work\/[^/]+\//, "")})`
  );
  assert.deepEqual(unexpected, [], `local mode loads ${names.join(", ")}`);
  assert.ok(seen.size > 50, `the walk reached ${seen.size} modules`);
  const cloud = [...seen].filter((s) => /\/lib\/cloud\/(_?spool(_sql)?\.ts|logs\/)/.test(s));
  assert.deepEqual(cloud, [], "local mode loads the cloud spool");
});
