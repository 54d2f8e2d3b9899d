#!/usr/bin/env bash
# Set up (system packages, release build) and run clawshim.
#
#   ./run.sh                      # the local gateway, found from its own config (zero-config);
#                                 # none found or configured: the built-in demo (echo gateway)
#   CLAWSHIM_GATEWAY_URL=ws://127.0.0.1:18789 CLAWSHIM_GATEWAY_TOKEN=<gateway.auth.token> ./run.sh
#
# Any other argument is passed to clawshim (e.g. `./run.sh --config conf/clawshim.toml`).
set -euo pipefail
cd "$(dirname "$0")"

missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust (https://rustup.rs) and run again" >&2
  exit 1
fi

cargo build --release --locked -p clawshim-proxy
if [ $# -eq 0 ] && [ -z "${CLAWSHIM_GATEWAY_URL:-}" ] && [ -z "${CLAWSHIM_CONFIG:-}" ] \
  && [ -z "${CLAWSHIM_GATEWAY_TOKEN:-}" ] && [ -z "${CLAWSHIM_GATEWAY_PASSWORD:-}" ] \
  && ! target/release/clawshim --check-config >/dev/null 2>&1; then
  # Nothing configured and no local gateway config found (or it is unusable: the message says
  # why, then the demo starts).
  target/release/clawshim --check-config 2>&1 | tail -n 1 | sed 's/^ *- /run.sh: /' >&2 || true
  exec target/release/clawshim demo
fi
exec target/release/clawshim "$@"
