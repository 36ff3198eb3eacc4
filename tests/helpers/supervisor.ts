/**
 * A stand-in for systemd in the update tests, doing what tern.service asks
 * of it (deploy/systemd/tern.service): before every start run the guard
 * (`ExecStartPre=deploy/systemd/tern-guard.sh STATE BIN MAX`), start BIN,
 * and when it ends with a non-zero code or a signal start it again after
 * `restartDelay` ms (`Restart=on-failure`), except codes 78 and 64
 * (`RestartPreventExitStatus`). `kill9()` is a power cut of the agent.
 *
 * ```ts
 * await using sup = startSupervisor({ bin, stateDir, maxBoots: 2 });
 * await until(() => sup.lines.some((l) => l.includes("Updates started")));
 * sup.runs;   // [{ code: 75 }, { code: null (running) }]
 * ```
 */

const GUARD = new URL("../../deploy/systemd/tern-guard.sh", import.meta.url).pathname;

export interface Run {
  /** Exit code, or null while running; "SIGKILL" when killed. */
  code: number | string | null;
}

export interface Supervisor extends AsyncDisposable {
  runs: Run[];
  /** Every line the agent wrote (stdout and stderr), across starts. */
  lines: string[];
  kill9(): void;
  stop(): Promise<void>;
}

export function startSupervisor(options: {
  bin: string;
  stateDir: string;
  maxBoots: number;
  restartDelay?: number;
  args?: string[];
}): Supervisor {
  const runs: Run[] = [];
  const lines: string[] = [];
  let child: Deno.ChildProcess | undefined;
  let stopped = false;
  const pump = async (s: ReadableStream<Uint8Array>) => {
    let buf = "";
    for await (const c of s.pipeThrough(new TextDecoderStream())) {
      buf += c;
      const parts = buf.split("\n");
      buf = parts.pop()!;
      lines.push(...parts);
    }
    if (buf) lines.push(buf);
  };
  const loop = (async () => {
    while (!stopped) {
      await new Deno.Command("sh", {
        args: [GUARD, options.stateDir, options.bin, String(options.maxBoots)],
        stdout: "null",
        stderr: "inherit",
      }).output();
      if (stopped) break;
      const run: Run = { code: null };
      runs.push(run);
      child = new Deno.Command(options.bin, {
        args: options.args ?? [],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).spawn();
      const io = Promise.all([pump(child.stdout), pump(child.stderr)]);
      const st = await child.status;
      await io;
      child = undefined;
      run.code = st.signal ?? st.code;
      if (stopped || st.code === 78 || st.code === 64 || (st.success && !st.signal)) break;
      await new Promise((r) => setTimeout(r, options.restartDelay ?? 50));
    }
  })();
  const stop = async () => {
    stopped = true;
    try {
      child?.kill("SIGTERM");
    } catch { /* gone */ }
    const t = setTimeout(() => {
      try {
        child?.kill("SIGKILL");
      } catch { /* gone */ }
    }, 5000);
    await loop;
    clearTimeout(t);
  };
  return {
    runs,
    lines,
    kill9() {
      child?.kill("SIGKILL");
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
