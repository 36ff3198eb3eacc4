import assert from "node:assert/strict";

const ENV_TS = new URL("./env.ts", import.meta.url).href;

/** What a child run with `flags` sees of two set variables (null: undefined). */
async function child(flags: string[]): Promise<Record<string, unknown>> {
  const dir = await Deno.makeTempDir({ prefix: "tern_env_test_" });
  try {
    const script = `${dir}/child.ts`;
    await Deno.writeTextFile(
      script,
      `import { envGranted, readEnv, safeProcessEnv } from ${JSON.stringify(ENV_TS)};
const out = { a: readEnv("TERN_ENV_A"), b: readEnv("TERN_ENV_B") ?? null, grantedB: envGranted("TERN_ENV_B") };
await safeProcessEnv();
await safeProcessEnv();
const { default: process } = await import("node:process");
process.env.TERN_ENV_LOCAL = "3";
const keys = Object.keys(process.env).filter((k) => k.startsWith("TERN_ENV_")).sort();
console.log(JSON.stringify({ ...out, procA: process.env.TERN_ENV_A, procB: process.env.TERN_ENV_B ?? null,
  hasB: "TERN_ENV_B" in process.env, local: process.env.TERN_ENV_LOCAL, keys }));
`,
    );
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", ...flags, script],
      env: { TERN_ENV_A: "1", TERN_ENV_B: "2", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 0, err);
    return JSON.parse(new TextDecoder().decode(r.stdout));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("readEnv() and process.env under a scoped --allow-env see granted variables only, and never throw", async () => {
  assert.deepEqual(await child(["--allow-env=TERN_ENV_A"]), {
    a: "1",
    b: null,
    grantedB: false,
    procA: "1",
    procB: null,
    hasB: false,
    local: "3",
    keys: ["TERN_ENV_LOCAL"],
  });
});

Deno.test("with full env access safeProcessEnv() leaves process.env alone", async () => {
  assert.deepEqual(await child(["--allow-env"]), {
    a: "1",
    b: "2",
    grantedB: true,
    procA: "1",
    procB: "2",
    hasB: true,
    local: "3",
    keys: ["TERN_ENV_A", "TERN_ENV_B", "TERN_ENV_LOCAL"],
  });
});
