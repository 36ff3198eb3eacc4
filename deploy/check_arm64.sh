#!/usr/bin/env bash
# deno task check:arm64 — run the agent as an aarch64 process under qemu-user
# with its production permission flags: start, reach running, stop with exit 0.
# Installs what it needs when missing (needs root for apt): Debian's
# qemu-user-static and libc6:arm64, and the arm64 Deno from npm at the
# pinned version (@deno/linux-arm64-glibc).
set -euo pipefail
cd "$(dirname "$0")/.."
DENO_VERSION="$(deno --version | head -1 | awk '{print $2}')"
CACHE=".ci/cache/arm64"
ARM_DENO="$CACHE/package/deno"

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "check:arm64: missing $*; install as root: apt-get install $*" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
}

if ! command -v qemu-aarch64-static >/dev/null; then
  echo "check:arm64: installing qemu-user-static"
  apt-get update -q >/dev/null || true
  apt_install qemu-user-static
fi
if [ ! -e /lib/ld-linux-aarch64.so.1 ]; then
  echo "check:arm64: installing libc6:arm64"
  dpkg --add-architecture arm64
  apt-get update -q >/dev/null || true
  apt_install libc6:arm64
fi
if [ ! -x "$ARM_DENO" ] || ! qemu-aarch64-static "$ARM_DENO" --version | grep -q "deno $DENO_VERSION"; then
  echo "check:arm64: fetching @deno/linux-arm64-glibc@$DENO_VERSION from npm"
  rm -rf "$CACHE" && mkdir -p "$CACHE"
  (cd "$CACHE" && npm pack --silent "@deno/linux-arm64-glibc@$DENO_VERSION" >/dev/null && tar xzf ./*.tgz)
fi
qemu-aarch64-static "$ARM_DENO" --version | head -1
exec deno run --allow-all deploy/smoke.ts \
  --runner "qemu-aarch64-static $ARM_DENO" --expect-target aarch64-unknown-linux-gnu --timeout 600
