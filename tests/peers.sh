#!/usr/bin/env bash
# `deno task peers`: install the real peers the test suite and the CI checks
# use when they are present, with apt on Debian/Ubuntu (as root, or through
# sudo): mosquitto (MQTT over TLS with client certificates, like AWS IoT
# Core), chromium (the dashboard in a real browser), openssl (test
# certificates), wrk (web benchmarks), systemd-journal-remote (journal files
# for the journald log source's tests), qemu-user-static and libc6:arm64 (the
# agent as an aarch64 process, `deno task check:arm64`). Installs only what
# is missing; safe to run again. `.ci/run` runs this same command.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

sudo=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    echo "deno task peers: needs root or sudo to run apt-get" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null; then
  echo "deno task peers: apt-get not found; install mosquitto, chromium, openssl, wrk and qemu-user-static with this system's package manager" >&2
  exit 1
fi

need=()
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null || need+=(mosquitto)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v openssl >/dev/null || need+=(openssl)
command -v wrk >/dev/null || need+=(wrk)
[ -x /lib/systemd/systemd-journal-remote ] || [ -x /usr/lib/systemd/systemd-journal-remote ] || need+=(systemd-journal-remote)
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
if [ "$(uname -m)" != aarch64 ] && [ ! -e /lib/ld-linux-aarch64.so.1 ]; then
  "${sudo[@]}" dpkg --add-architecture arm64
  need+=(libc6:arm64)
fi

if [ ${#need[@]} -eq 0 ]; then
  echo "peers: all installed"
  exit 0
fi
echo "peers: installing ${need[*]}"
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q "${need[@]}"
# The tests start their own brokers: a packaged mosquitto that the install
# started must not hold port 1883.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  "${sudo[@]}" systemctl disable --now mosquitto 2>/dev/null || true
fi
"${sudo[@]}" pkill -x mosquitto 2>/dev/null || true
echo "peers: installed ${need[*]}"
