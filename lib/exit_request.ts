/**
 * A service asks the process to stop gracefully and exit with a given code
 * (the over-the-air update: exit 75 after the swap, so systemd starts the
 * new binary). `tern run` (lib/cli/run.ts) listens; elsewhere nothing does.
 *
 * Exit codes asked for here: 75 (`EXIT_RESTART`) — restart me, the binary
 * changed (systemd's `Restart=on-failure` does).
 */

/** "Start me again: the binary on disk changed" (EX_TEMPFAIL). */
export const EXIT_RESTART = 75;

type _Listener = (code: number, reason: string) => void;
const _listeners = new Set<_Listener>();

/** Ask for a graceful stop and exit `code`; false when nothing listens (not under `tern run`). */
export function requestExit(code: number, reason: string): boolean {
  for (const fn of _listeners) fn(code, reason);
  return _listeners.size > 0;
}

/** Listen for exit requests; returns the function that stops listening. */
export function onExitRequest(fn: _Listener): () => void {
  _listeners.add(fn);
  return () => _listeners.delete(fn);
}
