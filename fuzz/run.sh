#!/usr/bin/env bash
# Fuzzes the message parser: runs each fuzz target for SECONDS (default 60) and exits non-zero if any
# found a crash (a panic, an ASan report, a timeout or running out of memory), printing the input.
#
#   bash fuzz/run.sh [SECONDS]          every target
#   TARGETS=parse_message bash fuzz/run.sh 300
#   bash fuzz/run.sh 0                  build only (e.g. to warm a CI cache)
#
# Works on the stable toolchain: RUSTC_BOOTSTRAP=1 lets it take the nightly flags cargo-fuzz passes
# (-Zsanitizer=address, sancov). Builds into ${CARGO_TARGET_DIR:-fuzz/target} (under the
# x86_64-unknown-linux-gnu/ triple directory, so it can share CI's cached target dir with the main build).
# The corpus (fuzz/corpus/<target>) is seeded from tests/fixtures/findings and kept between runs; crashes
# go to fuzz/artifacts/<target>/ and logs to fuzz/artifacts/<target>.log (none of them committed).
set -euo pipefail

seconds=${1:-60}
[[ $seconds =~ ^[0-9]+$ ]] || { echo "usage: $0 [SECONDS]" >&2; exit 2; }

fuzz_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$fuzz_dir")
cd "$repo" # cargo fuzz finds fuzz/ from the project root

export RUSTC_BOOTSTRAP=1
target_dir=${CARGO_TARGET_DIR:-$fuzz_dir/target}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# Fuzz the dependency versions the daemon ships with: the fuzz workspace's lock file is the main one, plus
# the fuzzing crates (cargo adds them and drops what the fuzz build does not use).
cp Cargo.lock fuzz/Cargo.lock

read -r -a targets <<<"${TARGETS:-$(cargo fuzz list | tr '\n' ' ')}"

echo "== building ${targets[*]} into $target_dir"
started=$(date +%s)
cargo fuzz build --target-dir "$target_dir" # one build for all targets
echo "== built in $(($(date +%s) - started))s"
if ((seconds == 0)); then
    exit 0
fi

failed=()
for target in "${targets[@]}"; do
    corpus=fuzz/corpus/$target
    artifacts=fuzz/artifacts/$target
    log=fuzz/artifacts/$target.log
    mkdir -p "$corpus" "$artifacts"
    cp tests/fixtures/findings/*.json "$corpus"/
    before=$(find "$artifacts" -type f | sort)

    echo "== fuzzing $target for ${seconds}s (log: $log)"
    # -timeout: a message that takes seconds to parse is a bug too (the daemon's workers would stall on it).
    set +e
    cargo fuzz run --target-dir "$target_dir" "$target" "$corpus" -- \
        -max_total_time="$seconds" -max_len=300000 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 2>&1 |
        tee "$log" | grep -E --line-buffered '^(#[0-9]+[[:space:]]+(INITED|DONE|pulse)|==|SUMMARY|thread|Done)'
    status=${PIPESTATUS[0]}
    set -e

    new=$(comm -13 <(echo "$before") <(find "$artifacts" -type f | sort) | sed '/^$/d')
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -1 | tr '\t' ' ' || true)
    echo "== $target: ${runs:-?} executions, ${rate:-?} exec/s; last status: ${last:-none}"
    if [[ $status -ne 0 || -n $new ]]; then
        echo "!! $target failed (exit $status)" >&2
        for a in $new; do
            echo "!! crash input: $a  (reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run --target-dir $target_dir $target $a)" >&2
        done
        failed+=("$target")
    fi
done

if ((${#failed[@]})); then
    echo "== crashes in: ${failed[*]}" >&2
    exit 1
fi
echo "== no crash in ${targets[*]}"
