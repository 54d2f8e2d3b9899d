#!/usr/bin/env bash
# Run every test clawshim has: formatting and lints, unit + end-to-end tests (loopback only,
# in-process mock gateway), then the interop suite against the real gateways
# (clawdbot 2026.1.24 and openclaw 2026.9.6) with the official OpenAI SDKs.
#
#   ./test.sh                       # everything
#   CLAWSHIM_SKIP_INTEROP=1 ./test.sh   # Rust tests only (no npm / PyPI downloads)
set -euo pipefail
cd "$(dirname "$0")"

need_pkg() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
missing=()
need_pkg cmake cmake
need_pkg cc build-essential
need_pkg python3 python3
need_pkg curl curl
need_pkg promtool prometheus              # monitoring test: promtool check/test rules
need_pkg systemd-analyze systemd          # packaging test: systemd-analyze verify
need_pkg redis-server redis-server          # shared_state test: a real Redis on loopback
if [ "${CLAWSHIM_SKIP_INTEROP:-0}" != 1 ] && command -v python3 >/dev/null 2>&1 \
   && ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  missing+=(python3-venv)   # the interop suite puts the OpenAI SDK in a venv
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing system packages: ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The packaging test builds the Debian package with cargo-deb (from the debug binary).
if ! command -v cargo-deb >/dev/null 2>&1; then
  echo "installing cargo-deb"
  cargo install cargo-deb --version 3.8.0 --locked
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked 2>&1 | tee target/test-output.txt
# cargo prints one summary per test binary; add them up into one closing line.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "rust: %d passed, %d failed\n", p, f }' target/test-output.txt

if [ "${CLAWSHIM_SKIP_INTEROP:-0}" = 1 ]; then
  echo "== interop suite skipped (CLAWSHIM_SKIP_INTEROP=1)"
else
  echo "== interop suite (real gateways, official OpenAI SDKs)"
  # The debug binary the tests just built is enough here and saves a release build.
  cargo build --locked -p clawshim-proxy
  CLAWSHIM_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/clawshim" bash tests/interop/run.sh
fi
