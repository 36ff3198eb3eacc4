/**
 * `deno task check:arm64`: run the agent as an aarch64 process under
 * qemu-user with its production permission flags (start, reach running, stop
 * with exit 0). Installs what is missing: Debian's qemu-user-static and
 * libc6:arm64 (apt, as root), and the arm64 Deno from npm at this Deno's
 * version (`@deno/linux-arm64-glibc`) into `.ci/cache/arm64/`.
 */

import { join } from "node:path";
import { smoke } from "./smoke.ts";

const root = new URL("..", import.meta.url).pathname;
const cache = join(root, ".ci/cache/arm64");
const armDeno = join(cache, "package/deno");
const version = Deno.version.deno;

async function sh(cmd: string[], quiet = true): Promise<{ code: number; out: string }> {
  try {
    const r = await new Deno.Command(cmd[0]!, {
      args: cmd.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { DEBIAN_FRONTEND: "noninteractive" },
    }).output();
    const out = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
    if (!quiet || r.code !== 0) console.log(out.trim().split("\n").slice(-5).join("\n"));
    return { code: r.code, out };
  } catch (e) {
    return { code: 127, out: String(e) };
  }
}

async function need(what: string, check: () => Promise<boolean>, install: string[][]) {
  if (await check()) return;
  console.log(`check:arm64: installing ${what}`);
  for (const cmd of install) {
    const r = await sh(cmd);
    if (r.code !== 0) throw new Error(`"${cmd.join(" ")}" failed (exit ${r.code})`);
  }
  if (!(await check())) throw new Error(`${what} is still missing after installing it`);
}

const exists = (p: string) => {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
};

await need(
  "qemu-user-static",
  async () => (await sh(["qemu-aarch64-static", "--version"])).code === 0,
  [
    ["apt-get", "update", "-q"],
    ["apt-get", "install", "-y", "-q", "qemu-user-static"],
  ],
);
await need("libc6:arm64", () => Promise.resolve(exists("/lib/ld-linux-aarch64.so.1")), [
  ["dpkg", "--add-architecture", "arm64"],
  ["apt-get", "update", "-q"],
  ["apt-get", "install", "-y", "-q", "libc6:arm64"],
]);
const armVersion = async () => (await sh(["qemu-aarch64-static", armDeno, "--version"])).out;
await need(
  `@deno/linux-arm64-glibc@${version}`,
  async () => (await armVersion()).includes(`deno ${version}`),
  [
    ["rm", "-rf", cache],
    ["mkdir", "-p", cache],
    ["npm", "pack", "--silent", "--pack-destination", cache, `@deno/linux-arm64-glibc@${version}`],
    ["tar", "xzf", join(cache, `deno-linux-arm64-glibc-${version}.tgz`), "-C", cache],
  ],
);
console.log(`check:arm64: ${(await armVersion()).split("\n")[0]} under qemu-aarch64-static`);
const ok = await smoke({
  runner: ["qemu-aarch64-static", armDeno],
  expectTarget: "aarch64-unknown-linux-gnu",
  timeout: 600,
});
Deno.exit(ok ? 0 : 1);
