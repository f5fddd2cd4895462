#!/usr/bin/env bash
# Runs every test of the project, installing what the tests need first.
#
#   scripts/test.sh [STAGE ...]     stages: cargo redis browser fuzz autobahn   (default: all of them)
#
#   cargo     unit, integration and property tests (`cargo test --release --all-targets`)
#   redis     chat nodes sharing rooms through a real redis-server (scripts/redis-tests.sh)
#   browser   the chat page in headless Chromium (tests/browser/run.sh: apt chromium, npm)
#   fuzz      every cargo-fuzz target for FUZZ_SECONDS (default 45) on nightly (fuzz/run.sh)
#   autobahn  the Autobahn testsuite, server and client roles, every case (autobahn/run.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_STAGES=(cargo redis browser fuzz autobahn)
STAGES=("$@")
[[ ${#STAGES[@]} -eq 0 ]] && STAGES=("${ALL_STAGES[@]}")

stage() { printf '== test.sh: %s\n' "$*"; }

run_stage() {
    case "$1" in
    cargo)
        stage "cargo test (unit, integration, property tests)"
        cargo test --release --all-targets 2>&1 | tail -n 200
        ;;
    browser)
        stage "the chat in headless Chromium (tests/browser/run.sh)"
        tests/browser/run.sh
        ;;
    autobahn)
        stage "Autobahn testsuite, both roles (autobahn/run.sh all)"
        autobahn/run.sh all
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
