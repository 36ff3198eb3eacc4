import assert from "node:assert/strict";
import { readCookie } from "./sessions.ts";

Deno.test("readCookie finds a cookie among others, trims, and ignores look-alikes", () => {
  assert.equal(readCookie("tern_session=abc", "tern_session"), "abc");
  assert.equal(readCookie("a=1; tern_session=abc; b=2", "tern_session"), "abc");
  assert.equal(readCookie("a=1;tern_session= abc ;b", "tern_session"), "abc");
  assert.equal(readCookie("xtern_session=1; tern_session_old=2", "tern_session"), undefined);
  assert.equal(readCookie("novalue; tern_session", "tern_session"), undefined);
  assert.equal(readCookie("a=b=c; tern_session=x=y", "tern_session"), "x=y");
  assert.equal(readCookie("", "tern_session"), undefined);
  assert.equal(readCookie(";;; tern_session=z;", "tern_session"), "z");
});
