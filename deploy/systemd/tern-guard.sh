#!/bin/sh
# The update guard, run by systemd before every start of the agent
# (ExecStartPre in tern.service; docs/update.md). While a trial of a new
# binary is under way (STATE/update/pending exists) it counts the starts in
# STATE/update/boots; once the new binary was started MAX times without
# becoming healthy (the agent removes `pending` when its health check passes),
# it puts BINARY.prev back over BINARY and leaves the reason in
# STATE/update/rollback for the previous agent to report (job FAILED). It also
# finishes a restore that was cut short (rollback and pending both present).
# It never fails the start: a guard problem must not keep the agent down.
#
# Usage: tern-guard.sh STATE_DIR BINARY [MAX_BOOTS]   (default MAX_BOOTS: 3)
dir="$1/update"
bin="$2"
max="${3:-3}"
[ -f "$dir/pending" ] || exit 0
restore() {
  [ -f "$bin.prev" ] || return 0
  cp -p "$bin.prev" "$bin.rollback" && sync && mv -f "$bin.rollback" "$bin" && sync || return 0
  rm -f "$dir/pending" "$dir/boots"
  sync
}
if [ -f "$dir/rollback" ]; then
  restore
  exit 0
fi
n=0
[ -f "$dir/boots" ] && n=$(wc -c < "$dir/boots")
if [ "$n" -ge "$max" ]; then
  job=$(sed -n 's/^job=//p' "$dir/pending")
  printf 'job=%s\nreason=the new binary did not become healthy in %s starts\n' "$job" "$n" \
    > "$dir/rollback.tmp" && sync && mv -f "$dir/rollback.tmp" "$dir/rollback" && sync
  restore
  exit 0
fi
printf x >> "$dir/boots"
exit 0
