#!/usr/bin/env bash
# Builds every cargo-fuzz target and runs each for SECONDS (default 45) from the committed
# seed corpus, copied to a scratch directory so the repository stays clean. Fails if any
# target crashes; prints one `summary:` line per target (execs/s, coverage, result).
#
#   fuzz/run.sh [SECONDS]
#
# Needs rustup's nightly toolchain (installed if absent) and cargo-fuzz (installed if absent).
set -euo pipefail

seconds="${1:-45}"
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# The core is safe Rust (its one `unsafe` is checked by the connection targets' assertions),
# so no sanitizer: twice the executions per second. Debug assertions and overflow checks stay on.
build_flags=(--sanitizer none)
cargo +nightly fuzz build "${build_flags[@]}"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/fullduplex-fuzz.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

dict_for() {
    case "$1" in
        handshake_request | handshake_response | extensions_header) echo "-dict=$here/dict/handshake.dict" ;;
    esac
}

failed=()
summaries=()
for target in $(cargo +nightly fuzz list); do
    corpus="$scratch/corpus/$target"
    mkdir -p "$corpus" "$scratch/artifacts/$target"
    cp -r "$here/corpus/$target/." "$corpus/" 2>/dev/null || true
    log="$scratch/$target.log"
    result=ok
    # shellcheck disable=SC2046
    if ! cargo +nightly fuzz run "${build_flags[@]}" "$target" "$corpus" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$scratch/artifacts/$target/" $(dict_for "$target") >"$log" 2>&1; then
        result=CRASH
        failed+=("$target")
        mkdir -p "$here/artifacts/$target"
        cp "$scratch/artifacts/$target/"* "$here/artifacts/$target/" 2>/dev/null || true
        tail -n 40 "$log"
    fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    runs=$(grep -o 'exec/s: *[0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || echo 0)
    cov=$(grep -o 'cov: *[0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || echo 0)
    summaries+=("summary: $target execs=${execs:-0} exec/s=${runs:-0} cov=${cov:-0} result=$result")
done

printf '%s\n' "${summaries[@]}"
if ((${#failed[@]})); then
    echo "crashed: ${failed[*]} (inputs kept in fuzz/artifacts/)" >&2
    exit 1
fi
