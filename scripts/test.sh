#!/usr/bin/env bash
# Runs every test of the project, installing what the tests need first.
#
#   scripts/test.sh [STAGE ...]     stages: cargo layers redis browser fuzz autobahn   (default: all)
#
#   cargo     unit, integration and property tests, doc examples (`cargo test --release`)
#   layers    each layer alone: the core's direct dependencies are exactly httparse, sha1, base64,
#             flate2, getrandom; clippy, rustdoc and the tests with no features, with `runtime`, with
#             `runtime,tls`, with `tokio-tls` (the tokio adapter without mio; the default features
#             are the cargo stage's, which include `tokio`); `cargo package`, which
#             builds the crate as published
#   redis     chat nodes sharing rooms through a real redis-server (scripts/redis-tests.sh)
#   browser   the chat page in headless Chromium (tests/browser/run.sh: apt chromium, npm)
#   fuzz      every cargo-fuzz target for FUZZ_SECONDS (default 45) on nightly (fuzz/run.sh)
#   autobahn  the Autobahn testsuite, server and client roles, every case, on the mio runtime and
#             on the tokio adapter (autobahn/run.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_STAGES=(cargo layers redis browser fuzz autobahn)
STAGES=("$@")
[[ ${#STAGES[@]} -eq 0 ]] && STAGES=("${ALL_STAGES[@]}")

stage() { printf '== test.sh: %s\n' "$*"; }

# The core's direct dependencies, sorted: DESIGN.md, "Layers".
CORE_DEPS="base64 flate2 getrandom httparse sha1"

# Fails unless the core (no features) depends on CORE_DEPS and nothing else.
check_core_deps() {
    local deps
    deps=$(cargo tree --no-default-features -e normal --depth 1 --prefix none |
        awk 'NR > 1 { print $1 }' | sort -u | xargs)
    if [[ "$deps" != "$CORE_DEPS" ]]; then
        echo "layers: the core's direct dependencies are [$deps], expected exactly [$CORE_DEPS]." >&2
        echo "layers: a dependency the core does not need belongs behind a feature (Cargo.toml);" >&2
        echo "layers: one it does need goes into CORE_DEPS (scripts/test.sh) and DESIGN.md." >&2
        return 1
    fi
    echo "layers: the core depends on $deps, nothing else"
}

# Clippy and the tests for each layer below the command, then the package as published.
layers() {
    check_core_deps
    local features
    for features in "" runtime runtime,tls tokio-tls; do
        local flags=(--no-default-features ${features:+--features "$features"})
        echo "layers: ${features:-no features}: clippy, rustdoc, tests"
        cargo clippy --all-targets "${flags[@]}" -- -D warnings
        RUSTDOCFLAGS="-D warnings" cargo doc --no-deps "${flags[@]}"
        cargo test --release "${flags[@]}" 2>&1 | tail -n 200
    done
    # --allow-dirty: a local run may have uncommitted work (CI's clone is clean).
    echo "layers: cargo package, which builds the packaged crate"
    local out
    out=$(cargo package --allow-dirty 2>&1) || { echo "$out"; return 1; }
    echo "$out" | tail -n 5
    echo "summary: $(grep -o 'Packaged .*' <<<"$out")"
}

run_stage() {
    case "$1" in
    cargo)
        stage "cargo test (unit, integration, property tests)"
        cargo test --release --all-targets 2>&1 | tail -n 200
        # --all-targets leaves out the doc examples.
        cargo test --release --doc 2>&1 | tail -n 20
        ;;
    layers)
        stage "each layer alone: core dependencies, clippy and tests per feature set, cargo package"
        layers
        ;;
    browser)
        stage "the chat in headless Chromium (tests/browser/run.sh)"
        tests/browser/run.sh
        ;;
    autobahn)
        stage "Autobahn testsuite, both roles at once, on the mio runtime (autobahn/run.sh all)"
        RUNTIME=mio autobahn/run.sh all
        stage "Autobahn testsuite, both roles at once, on the tokio adapter (RUNTIME=tokio)"
        RUNTIME=tokio autobahn/run.sh all
        ;;
    fuzz)
        stage "cargo-fuzz targets, ${FUZZ_SECONDS:-45} s each (fuzz/run.sh)"
        fuzz/run.sh "${FUZZ_SECONDS:-45}"
        ;;
    redis)
        stage "scale-out: chat nodes through a real redis-server (scripts/redis-tests.sh)"
        scripts/redis-tests.sh
        ;;
    *)
        echo "test.sh: unknown stage '$1' (stages: ${ALL_STAGES[*]})" >&2
        exit 2
        ;;
    esac
}

for s in "${STAGES[@]}"; do
    run_stage "$s"
done
echo "test.sh: all stages passed (${STAGES[*]})"
