/**
 * `tern user` and `tern token` against a real config and state directory,
 * run as a subprocess so the password really comes from stdin.
 */

import assert from "node:assert/strict";
import { Database } from "../lib/db/mod.ts";
import { verifyPassword } from "../lib/web/mod.ts";
import { denoWithInput } from "./helpers/process.ts";

const MOD = new URL("../lib/cli/users.ts", import.meta.url).href;
const CFG = new URL("../deno.json", import.meta.url).pathname;

function tern(
  dir: string,
  args: string[],
  stdin = "",
): Promise<{ code: number; out: string; err: string }> {
  const code = `
    import { userCommand, tokenCommand } from "${MOD}";
    const [name, ...args] = JSON.parse(Deno.args[0]);
    const cmd = name === "user" ? userCommand : tokenCommand;
    const io = { out: (t) => console.log(t), err: (t) => console.error(t) };
    try {
      Deno.exit(await cmd.run(args, { config: "${dir}/config", state: "${dir}/state" }, io));
    } catch (e) { console.error(e.name + ": " + e.message); Deno.exit(e.name === "UsageError" ? 64 : 1); }
  `;
  return denoWithInput(["eval", "--config", CFG, code, JSON.stringify(args)], stdin);
}

Deno.test("tern user add/passwd/list/remove and tern token create/list/revoke", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/config`);
    await Deno.writeTextFile(
      `${dir}/config/tern.json5`,
      "{ web: { auth: { iterations: 10000 } } }",
    );
    const add = await tern(dir, ["user", "add", "alice", "--role", "user"], "alice-password\n");
    assert.equal(add.code, 0, add.err);
    const short = await tern(dir, ["user", "add", "bob"], "short\n");
    assert.equal(short.code, 64);
    const badRole = await tern(dir, ["user", "add", "carol", "--role", "root"], "carol-password\n");
    assert.notEqual(badRole.code, 0);
    assert.match(badRole.err, /Unknown role "root"/);
    const pw = await tern(dir, ["user", "passwd", "alice"], "new-password\n");
    assert.equal(pw.code, 0, pw.err);
    const list = await tern(dir, ["user", "list"]);
    const users = list.out.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(users.map((u) => [u.username, u.role]), [["alice", "user"]]);
    assert.ok(!list.out.includes("pbkdf2"), "no hashes printed");
    const tok = await tern(dir, ["token", "create", "--name", "ci", "--role", "admin"]);
    assert.equal(tok.code, 0, tok.err);
    const token = tok.out.trim();
    assert.match(token, /^tern_[A-Za-z0-9_-]{43}$/);
    const tl = await tern(dir, ["token", "list"]);
    assert.equal(JSON.parse(tl.out.trim()).name, "ci");
    assert.ok(!tl.out.includes(token));
    const db = Database.open({ path: `${dir}/state/tern.db`, purgeInterval: 0 });
    try {
      const { AuthStore } = await import("../lib/web/mod.ts");
      const store = new AuthStore(db);
      const alice = store.getUser("alice")!;
      assert.ok((await verifyPassword("new-password", alice.passwordHash, 10_000)).ok);
      assert.ok(!(await verifyPassword("alice-password", alice.passwordHash, 10_000)).ok);
    } finally {
      db.close();
    }
    const rv = await tern(dir, ["token", "revoke", token.slice(0, 12)]);
    assert.equal(rv.code, 0, rv.err);
    const rm = await tern(dir, ["user", "remove", "alice"]);
    assert.equal(rm.code, 0, rm.err);
    assert.equal((await tern(dir, ["user", "list"])).out.trim(), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
