#!/usr/bin/env bash
# Runs every test of the project, installing what the tests need first.
#
#   scripts/test.sh [STAGE ...]     stages: cargo faults reliability layers redis browser fuzz
#                                   autobahn (default: all of these); soak slow storms scale only when
#                                   named (the full forms of issue 20's long cases)
#
#   cargo     unit, integration and property tests, doc examples (`cargo test --release`), then
#             the runtime tests (tests/runtime_*.rs) a second time with their servers on the
#             io_uring event loop (FULLDUPLEX_TEST_EVENT_LOOP=io-uring; the hostile peers of
#             tests/hostile_peers.rs attack both event loops in the first run already); the
#             storms of tests/storms.rs in their CI form (2 000 connections at once)
#   faults    real network faults (tests/faults/): chat clients whose namespace's link is cut
#             without a FIN, on both event loops; a chat node cut off from redis-server and
#             restored, and Redis restarted empty meanwhile; the fault-injecting proxy. Needs
#             root (network namespaces); installs iproute2 and redis-server when missing, and
#             sets FULLDUPLEX_REQUIRE_NETNS=1 so nothing is skipped
#   reliability  the CI forms of the soak (scripts/soak.sh --short: 2 000 chat clients in rooms
#             of 100 for 2 minutes), of the slow readers (scripts/slow-readers.sh ci: 200 of
#             2 000 clients never read) and of the 100 000 clients (scripts/scale-100k.sh
#             --short: 20 000 clients on 2 chat nodes sharing rooms through redis-server)
#   layers    each layer alone: the core's direct dependencies are exactly httparse, sha1, base64,
#             flate2, getrandom; clippy, rustdoc and the tests with no features, with `runtime`, with
#             `runtime,tls`, with `tokio-tls` (the tokio adapter without mio; the default features
#             are the cargo stage's, which include `tokio`), with `io-uring` (the mio runtime and
#             the io_uring event loop, no TLS); `cargo package`, which builds the crate as
#             published
#   redis     chat nodes sharing rooms through a real redis-server (scripts/redis-tests.sh)
#   browser   the chat page in headless Chromium (tests/browser/run.sh: apt chromium, npm)
#   fuzz      every cargo-fuzz target for FUZZ_SECONDS (default 45) on nightly (fuzz/run.sh)
#   autobahn  the Autobahn testsuite, server and client roles, every case, on the mio runtime, on
#             the tokio adapter and on the io_uring event loop (autobahn/run.sh), one after the
#             other; AUTOBAHN_RUNTIMES="mio tokio io-uring" (the default) names which
#
# Stages run only when named (issue 20's long cases in full):
#   soak      the chat under steady load for 20 minutes: 10 000 clients, memory, descriptors and
#             every delivery checked, docs/soak.png drawn (scripts/soak.sh)
#   slow      slow readers against each send-buffer option (scripts/slow-readers.sh;
#             SLOW_FORM=full, the default, or pressure)
#   scale     100 000 chat clients on 6 nodes through redis-server, every delivery checked
#             (scripts/scale-100k.sh; about 3 minutes of the whole machine)
#   storms    10 000 connections at once and a descriptor table too small for the clients, on
#             both event loops (tests/storms.rs), and 48 chat pages reconnecting after a server
#             restart (tests/browser/storm.spec.mjs; 24 pages in the browser stage)
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_STAGES=(cargo faults reliability layers redis browser fuzz autobahn)
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
    for features in "" runtime runtime,tls tokio-tls io-uring; do
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

# The runtime test binaries (tests/runtime_*.rs), as `--test NAME` arguments.
runtime_tests() {
    local file
    for file in tests/runtime_*.rs; do
        printf -- '--test %s ' "$(basename "$file" .rs)"
    done
}

# The fault tests (tests/faults/) with what they need: root, `ip`, `ss`, redis-server.
faults() {
    local missing=()
    command -v ip >/dev/null && command -v ss >/dev/null || missing+=(iproute2)
    command -v redis-server >/dev/null || missing+=(redis-server)
    if [[ ${#missing[@]} -gt 0 ]]; then
        if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
            echo "faults: ${missing[*]} missing; run as root on Debian to install them" >&2
            return 1
        fi
        echo "faults: installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    local start=$SECONDS
    FULLDUPLEX_REQUIRE_NETNS=1 FULLDUPLEX_REQUIRE_REDIS=1 \
        cargo test --release --test apps faults:: -- --nocapture 2>&1 | tail -n 100
    echo "faults: stage took $((SECONDS - start)) s"
}

run_stage() {
    case "$1" in
    cargo)
        stage "cargo test (unit, integration, property tests)"
        cargo test --release --all-targets 2>&1 | tail -n 200
        # --all-targets leaves out the doc examples.
        cargo test --release --doc 2>&1 | tail -n 20
        # Every server of these tests checks that it runs the event loop asked for
        # (tests/common/runtime.rs), so this run cannot pass on mio by mistake.
        stage "the runtime tests again, their servers on io_uring (FULLDUPLEX_TEST_EVENT_LOOP)"
        # shellcheck disable=SC2046 # one word per argument
        FULLDUPLEX_TEST_EVENT_LOOP=io-uring cargo test --release $(runtime_tests) 2>&1 |
            tail -n 200
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
        local runtime
        for runtime in ${AUTOBAHN_RUNTIMES:-mio tokio io-uring}; do
            stage "Autobahn testsuite, both roles at once, RUNTIME=$runtime (autobahn/run.sh all)"
            RUNTIME=$runtime autobahn/run.sh all
        done
        ;;
    fuzz)
        stage "cargo-fuzz targets, ${FUZZ_SECONDS:-45} s each (fuzz/run.sh)"
        fuzz/run.sh "${FUZZ_SECONDS:-45}"
        ;;
    redis)
        stage "scale-out: chat nodes through a real redis-server (scripts/redis-tests.sh)"
        scripts/redis-tests.sh
        ;;
    faults)
        stage "faults: dead peers without a FIN, a partitioned broker (tests/faults/, as root)"
        faults
        ;;
    reliability)
        stage "the CI forms of the soak, the slow readers and the 100 000 clients (scripts/soak.sh --short, scripts/slow-readers.sh ci, scripts/scale-100k.sh --short)"
        cargo build --release --bin fullduplex
        local log
        log=$(mktemp)
        scripts/soak.sh --short | tee "$log"
        scripts/slow-readers.sh ci | tee -a "$log"
        scripts/scale-100k.sh --short | tee -a "$log"
        # The figures CI prints under the stage's line.
        grep -E '^soak: (latency|PASS \()|^slow readers \(ci\): PASS|^scale-100k: (generator 0|PASS \()' "$log" |
            sed 's/^/summary: /'
        rm -f "$log"
        ;;
    scale)
        stage "100 000 chat clients on 6 nodes through redis-server (scripts/scale-100k.sh)"
        cargo build --release --bin fullduplex
        scripts/scale-100k.sh
        ;;
    soak)
        stage "soak: 10 000 chat clients, rooms of 100, 1 msg/s per room, 20 minutes (scripts/soak.sh)"
        scripts/soak.sh
        ;;
    slow)
        stage "slow readers, SLOW_FORM=${SLOW_FORM:-full} (scripts/slow-readers.sh)"
        cargo build --release --bin fullduplex
        scripts/slow-readers.sh "${SLOW_FORM:-full}"
        ;;
    storms)
        stage "storms: 10 000 connects at once, a full descriptor table, 48 pages reconnecting"
        FULLDUPLEX_STORM_CONNECTIONS=10000 cargo test --release --test storms -- --nocapture \
            --test-threads=1 2>&1 | tail -n 40
        STORM_PAGES=48 tests/browser/run.sh storm.spec.mjs
        ;;
    *)
        echo "test.sh: unknown stage '$1' (stages: ${ALL_STAGES[*]}; named only: soak slow storms scale)" >&2
        exit 2
        ;;
    esac
}

for s in "${STAGES[@]}"; do
    run_stage "$s"
done
echo "test.sh: all stages passed (${STAGES[*]})"
