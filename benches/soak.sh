#!/usr/bin/env bash
# Soak clawshim: a steady mix of streams, non-stream requests, client disconnects and bad
# requests for a set time (default 10 minutes), with the mock gateway (its own process)
# killed and restarted every few minutes. Reports clawshim's RSS, open descriptors, threads
# and latency at start and end; exits non-zero if any request ended wrongly or RSS or
# descriptors grew past the tolerance. Options: see `python3 benches/soak.py --help`.
#
#   benches/soak.sh                      # 10 minutes, debug build
#   PROFILE=release benches/soak.sh --duration 3600
#   PROFILE=profiling benches/soak.sh    # release code with line tables, for perf
#   nice -n 5 benches/soak.sh            # on a shared machine
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${PROFILE:-debug}"
# Cargo calls the debug profile `dev`; the others build into target/<profile>.
case "$profile" in
  debug | dev) profile=dev; dir=debug ;;
  *) dir="$profile" ;;
esac
cargo build --locked --profile "$profile" -p clawshim-proxy -p clawshim-mock-gateway
target="${CARGO_TARGET_DIR:-$PWD/target}/$dir"
export CLAWSHIM_BIN="${CLAWSHIM_BIN:-$target/clawshim}"
export MOCK_GATEWAY_BIN="${MOCK_GATEWAY_BIN:-$target/clawshim-mock-gateway}"
exec python3 benches/soak.py "$@"
