/**
 * Spawning the agent as a child process for tests: `deno run` with given
 * permission flags, with output captured, small waits on files, and a kill -9
 * that checks the kill is what ended the child.
 */

import assert from "node:assert/strict";

export { freePort } from "../../deploy/free_port.ts";

/** Output of a finished child. */
export interface ChildResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `deno run FLAGS SCRIPT ARGS` to completion. */
export async function runDeno(
  flags: string[],
  script: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<ChildResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...flags, script, ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Start `deno run FLAGS SCRIPT ARGS` and keep it running. */
export function spawnDeno(
  flags: string[],
  script: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...flags, script, ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Run `deno ARGS` with `stdin` written to it (none when undefined); its code and output as text. */
export async function denoWithInput(
  args: string[],
  stdin?: string,
  cwd?: string,
): Promise<{ code: number; out: string; err: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    ...(cwd ? { cwd } : {}),
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const r = await child.output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

/** Collect a child's stdout and stderr as text once it exits. */
export async function collect(child: Deno.ChildProcess): Promise<ChildResult> {
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Poll until `path` contains `text`, up to `timeoutMs`. */
export async function waitForText(path: string, text: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (Deno.readTextFileSync(path).includes(text)) return;
    } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(`Timed out waiting for "${text}" in ${path}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Call `onLine` for each complete line of a byte stream; resolves when it ends. */
export async function forEachLine(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let buf = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    const parts = buf.split("\n");
    buf = parts.pop()!;
    for (const p of parts) onLine(p);
  }
}

/**
 * SIGKILL `child` (it may have exited already), wait for it and for `reader`
 * (its stdout consumer), and fail with its stderr unless the kill ended it.
 * `stderr` is the child's stderr text, read from before the wait so its pipe
 * never fills.
 */
export async function killAndCheck(
  child: Deno.ChildProcess,
  reader: Promise<void>,
  stderr: Promise<string>,
  what = "child",
): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch { /* exited already */ }
  const status = await child.status;
  await reader;
  const err = await stderr;
  assert.equal(status.signal, "SIGKILL", `${what} exited on its own: ${err}`);
}
