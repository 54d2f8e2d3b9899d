#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for a number of executions each, one after the
# other, and prints inputs tried, exec/s and the outcome per target.
#
#   fuzz/run.sh                      # 100,000 executions per target (a CI smoke run)
#   fuzz/run.sh 10000000             # the full run recorded in RELIABILITY.md
#   fuzz/run.sh 10000000 frame       # one target
#   FUZZ_SECONDS=300 fuzz/run.sh 10000000   # stop each target after 300 s at the latest
#   fuzz/run.sh merge                # add the inputs a run found that reach new edges to
#                                    # fuzz/corpus/<target>/ (libFuzzer -set_cover_merge=1)
#
# Installs cargo-fuzz when missing. cargo-fuzz passes -Z flags to rustc; RUSTC_BOOTSTRAP=1
# lets a stable toolchain accept them, so no nightly is needed. Built without a sanitizer
# (-s none): the code under test has no `unsafe`, so safe Rust's own checks (bounds,
# overflow with debug assertions, which cargo-fuzz keeps on) are what can fire.
#
# The kept corpus fuzz/corpus/<target>/ is read but never written by a run: new inputs go
# to $FUZZ_WORK/<target>/ (default /tmp/clawshim-fuzz). A crash stops the script with
# libFuzzer's report; its input is in fuzz/artifacts/<target>/.
set -euo pipefail

cd "$(dirname "$0")"
runs="${1:-100000}"
if [ $# -gt 0 ]; then shift; fi
work="${FUZZ_WORK:-/tmp/clawshim-fuzz}"
seconds="${FUZZ_SECONDS:-0}"
target_dir="${CARGO_TARGET_DIR:-$(pwd)/../target/fuzz}"
export RUSTC_BOOTSTRAP=1

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi

fuzz_flags=(-s none -O --target-dir "$target_dir")
cargo fuzz build "${fuzz_flags[@]}"

if [ "$runs" = "merge" ]; then
    for t in "${targets[@]}"; do
        mkdir -p "$work/$t"
        cargo fuzz run "${fuzz_flags[@]}" "$t" "corpus/$t" "$work/$t" -- -set_cover_merge=1 -use_counters=0 -max_len=128
    done
    exit 0
fi

summary=()
for t in "${targets[@]}"; do
    mkdir -p "$work/$t"
    log="$work/$t.log"
    start=$(date +%s)
    set +e
    cargo fuzz run "${fuzz_flags[@]}" "$t" "$work/$t" "corpus/$t" -- \
        -runs="$runs" -max_total_time="$seconds" -dict=json.dict -max_len=8192 -print_final_stats=1 2>&1 | tee "$log" |
        grep -E '^(#[0-9]+\s+(INITED|DONE)|Done|==|SUMMARY|stat::)'
    status=${PIPESTATUS[0]}
    set -e
    secs=$(( $(date +%s) - start ))
    executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    if [ "$status" -ne 0 ]; then
        echo "fuzz/run.sh: $t failed (exit $status); see $log and fuzz/artifacts/$t/" >&2
        exit "$status"
    fi
    summary+=("$t ${executed:-?} ${rate:-?} ${secs} ok")
done

printf '\n%-18s %12s %10s %8s %s\n' target executions exec/s seconds result
for line in "${summary[@]}"; do
    # shellcheck disable=SC2086
    printf '%-18s %12s %10s %8s %s\n' $line
done
