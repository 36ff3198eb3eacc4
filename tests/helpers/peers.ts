/**
 * Real peers a machine may lack (Debian's mosquitto and chromium), and the
 * tests that run only when asked for (TERN_SLOW_TESTS=1). A test file asks
 * once at its top and passes the answer as the `ignore` option of its tests:
 *
 * ```ts
 * const ignore = skipWithout("mosquitto", import.meta.url);
 * test({ name: "…", ignore, fn }); // Deno's test registration
 * ```
 *
 * A skipped file says so on stderr at once, and, under `deno task test`
 * (tests/run.ts sets TERN_TEST_SKIPS to a directory), leaves a note there so
 * the run ends with one line naming every skipped suite and the command that
 * installs its peers (`deno task peers`, tests/peers.sh).
 */

import { basename, join } from "node:path";

/** A program the tests drive when it is installed. */
export interface Peer {
  /** The Debian packages that provide it (what `deno task peers` installs). */
  readonly packages: readonly string[];
  /** Its path, or undefined when it is not installed. */
  path(): string | undefined;
}

function firstFile(candidates: readonly string[]): string | undefined {
  for (const p of candidates) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export const PEERS = {
  mosquitto: {
    packages: ["mosquitto"],
    path: () =>
      firstFile(["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"]),
  },
  chromium: {
    packages: ["chromium"],
    path: () => firstFile(["/usr/bin/chromium"]),
  },
  /** Writes journal files from export format, for the journald source's tests (journalctl reads them). */
  "journal-remote": {
    packages: ["systemd-journal-remote"],
    path: () =>
      firstFile(["/usr/bin/journalctl", "/bin/journalctl"]) &&
      firstFile(["/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote"]),
  },
} satisfies Record<string, Peer>;

export type PeerName = keyof typeof PEERS;

/** The command that installs every peer (README, .ci/run and the end-of-run line name it). */
export const PEERS_COMMAND = "npx -y deno@2.9.6 task peers";

/** True when `peer` is missing: the caller's tests are then skipped, and the skip is reported. */
export function skipWithout(peer: PeerName, testUrl: string): boolean {
  if (PEERS[peer].path() !== undefined) return false;
  const suite = basename(new URL(testUrl).pathname);
  console.warn(`SKIP ${suite}: ${peer} is not installed (${PEERS_COMMAND} installs it)`);
  _note(suite, peer);
  return true;
}

/**
 * True unless the tests run as root: tests that mount a file system of their own (a small tmpfs,
 * to fill it) need it. CI runs as root; the skip is reported like a missing peer.
 */
export function skipUnlessRoot(testUrl: string): boolean {
  if (Deno.uid() === 0) return false;
  const suite = basename(new URL(testUrl).pathname);
  console.warn(`SKIP ${suite}: it mounts a tmpfs, which needs root (CI runs it as root)`);
  _note(suite, "root");
  return true;
}

/** True unless TERN_SLOW_TESTS=1: long tests (minutes of outage) run in CI and on request. */
export function skipUnlessSlow(testUrl: string): boolean {
  if (Deno.env.get("TERN_SLOW_TESTS") === "1") return false;
  _note(basename(new URL(testUrl).pathname), "slow");
  return true;
}

/** Leave `<dir>/<suite>.<reason>` for tests/run.ts; nothing when not run by it. */
function _note(suite: string, reason: string): void {
  const dir = Deno.env.get("TERN_TEST_SKIPS");
  if (!dir) return;
  try {
    Deno.writeTextFileSync(join(dir, `${suite}.${reason}`), "");
  } catch {
    // the directory is gone: the run is over
  }
}

/** What tests/run.ts prints at the end: the skipped suites by reason, from the notes in `dir`. */
export function skipSummary(names: readonly string[]): string[] {
  const byReason = new Map<string, string[]>();
  for (const name of [...names].sort()) {
    const dot = name.lastIndexOf(".");
    const reason = name.slice(dot + 1);
    byReason.set(reason, [...(byReason.get(reason) ?? []), name.slice(0, dot)]);
  }
  const lines: string[] = [];
  const missing = [...byReason].filter(([reason]) => reason !== "slow" && reason !== "root");
  if (missing.length) {
    const what = missing.map(([peer, suites]) => `${suites.join(", ")} (need ${peer})`).join("; ");
    lines.push(
      `NOT RUN: ${what}. The peers are not installed: ${PEERS_COMMAND} installs them (apt-get, as root or with sudo).`,
    );
  }
  const root = byReason.get("root");
  if (root) lines.push(`NOT RUN without root: ${root.join(", ")} (they mount a tmpfs).`);
  const slow = byReason.get("slow");
  if (slow) lines.push(`Long tests not run in ${slow.join(", ")}: TERN_SLOW_TESTS=1 runs them.`);
  return lines;
}
