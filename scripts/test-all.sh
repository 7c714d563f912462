#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs and starts what it needs (Mosquitto,
# PostgreSQL, Chromium), then runs formatting, lints and every test of the workspace against
# the real broker. `.ci/run` calls exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ioc-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=""
need_package() { # need_package <command> <debian package>
  if ! command -v "$1" >/dev/null 2>&1; then
    if [ -z "$apt_updated" ]; then sudo_if_needed apt-get update -qq; apt_updated=1; fi
    echo "installing $2"
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  fi
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 50); do port_open "$1" && return 0; sleep 0.2; done; echo "port $1 did not open" >&2; return 1; }

# Mosquitto on 127.0.0.1:1883 (the tests' broker unless IOC_TEST_MQTT names another).
if [ -z "${IOC_TEST_MQTT:-}" ] && ! port_open 1883; then
  need_package mosquitto mosquitto
  need_package mosquitto_pub mosquitto-clients
  if [ -f /etc/mosquitto/mosquitto.conf ]; then
    sudo_if_needed mosquitto -d -c /etc/mosquitto/mosquitto.conf
  else
    sudo_if_needed mosquitto -d -p 1883
  fi
  wait_port 1883
fi
# The security and fault tests start private brokers (mosquitto, mosquitto_passwd) and make
# their TLS certificates with openssl.
need_package mosquitto mosquitto
need_package openssl openssl

# PostgreSQL on 127.0.0.1:5432 with a `test` database (the multi-instance journal's home).
if ! port_open 5432; then
  need_package pg_ctlcluster postgresql
  sudo_if_needed pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  wait_port 5432
fi

# Chromium for the dashboard page test.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  need_package chromium chromium
fi

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== build"
cargo build --locked --workspace --bin ioc --examples

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
