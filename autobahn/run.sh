#!/usr/bin/env bash
# Runs the Autobahn testsuite against fullduplex and checks every case.
#
#   autobahn/run.sh [server|client|all]      (default: all)
#
# server role: `wstest -m fuzzingclient` against `fullduplex echo --deflate`;
# client role: `wstest -m fuzzingserver`, played by `fullduplex autobahn-client`.
# Both run every case ("*", none excluded) on loopback ports chosen free at start. The HTML
# reports land in autobahn/reports/{server,client}/index.html; the results are compared with
# autobahn/expected-results.json case by case, and the script exits non-zero on any
# difference, on a missing case, or when the testee died.
#
# Environment: UPDATE_EXPECTED=1 rewrites expected-results.json from this run instead of
# comparing (review the diff before committing it). RUNTIME=tokio runs the testees on the tokio
# adapter (`--runtime tokio`), with reports in autobahn/reports/tokio-{server,client}/;
# RUNTIME=io-uring on the io_uring event loop (`fullduplex echo --deflate --io-uring`, and
# `autobahn-client --runtime io-uring`: the many-connection client on io_uring), with reports in
# autobahn/reports/io-uring-{server,client}/; all with the same expected results. RUNTIME=mio
# (the default) keeps autobahn/reports/{server,client}/. Two runs with different roles or
# runtimes may go at the same time (ports are chosen free).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
ROLE="${1:-all}"
export RUNTIME="${RUNTIME:-mio}"
REPORTS="$HERE/reports"
BIN="$ROOT/target/release/fullduplex"
PIDS=()

case "$ROLE" in
server | client | all) ;;
*)
    echo "usage: autobahn/run.sh [server|client|all]   ('$ROLE' is not a role)" >&2
    exit 2
    ;;
esac

# What each runtime's testees are told: the server's options, the client's --runtime.
case "$RUNTIME" in
mio) PREFIX="" SERVER_ARGS=(--runtime mio) ;;
tokio) PREFIX="tokio-" SERVER_ARGS=(--runtime tokio) ;;
io-uring) PREFIX="io-uring-" SERVER_ARGS=(--io-uring) ;;
*)
    echo "autobahn/run.sh: RUNTIME=$RUNTIME is not a runtime (mio, tokio or io-uring)" >&2
    exit 2
    ;;
esac

say() { printf 'autobahn: %s\n' "$*"; }

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (bounded) until a log file has a line matching a pattern; fails if the process died.
wait_for_line() {
    local log="$1" pattern="$2" pid="$3"
    for _ in $(seq 1 300); do
        grep -q "$pattern" "$log" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || { say "process $pid died:"; cat "$log" >&2; return 1; }
        sleep 0.1
    done
    say "timed out waiting for '$pattern' in $log"
    return 1
}

write_spec() {
    # $1 = file, $2 = "url" value, $3 = outdir, $4 = agent key ("servers" entry or none)
    "$PY" - "$@" <<'PY'
import json, sys
path, url, outdir, mode = sys.argv[1:5]
spec = {"options": {"failByDrop": False}, "outdir": outdir, "cases": ["*"],
        "exclude-cases": [], "exclude-agent-cases": {}}
if mode == "fuzzingclient":
    spec["servers"] = [{"agent": "fullduplex", "url": url}]
else:
    spec["url"] = url
json.dump(spec, open(path, "w"), indent=1)
PY
}

run_server_role() {
    local port log start
    rm -rf "$REPORTS/${PREFIX}server" && mkdir -p "$REPORTS/${PREFIX}server"
    log="$REPORTS/${PREFIX}server/testee.log"
    "$BIN" echo --addr 127.0.0.1:0 --deflate "${SERVER_ARGS[@]}" >"$log" 2>&1 &
    local echo_pid=$!
    PIDS+=("$echo_pid")
    wait_for_line "$log" "listening on ws://" "$echo_pid"
    port="$(sed -n 's|.*listening on ws://127.0.0.1:\([0-9]*\).*|\1|p' "$log" | head -1)"
    write_spec "$REPORTS/${PREFIX}server/spec.json" "ws://127.0.0.1:$port" "$REPORTS/${PREFIX}server" fuzzingclient
    say "server role: wstest -m fuzzingclient against fullduplex echo --deflate ${SERVER_ARGS[*]}: $(grep -m1 'listening on' "$log")"
    start=$SECONDS
    (cd "$REPORTS/${PREFIX}server" && "$PY" "$HERE/wstest_loopback.py" -m fuzzingclient -s spec.json >wstest.log 2>&1)
    say "server role: wstest ran for $((SECONDS - start)) s"
    if ! kill -0 "$echo_pid" 2>/dev/null; then
        say "server role: the testee died during the run:"
        tail -20 "$log" >&2
        return 1
    fi
    "$PY" "$HERE/summarize.py" server "$REPORTS/${PREFIX}server" $EXPECT_FLAG
}

run_client_role() {
    local port log start
    rm -rf "$REPORTS/${PREFIX}client" && mkdir -p "$REPORTS/${PREFIX}client"
    port="$(free_port)"
    log="$REPORTS/${PREFIX}client/wstest.log"
    write_spec "$REPORTS/${PREFIX}client/spec.json" "ws://127.0.0.1:$port" "$REPORTS/${PREFIX}client" fuzzingserver
    (cd "$REPORTS/${PREFIX}client" && exec "$PY" "$HERE/wstest_loopback.py" -m fuzzingserver -s spec.json -u 0 >"$log" 2>&1) &
    local server_pid=$!
    PIDS+=("$server_pid")
    wait_for_line "$log" "will run" "$server_pid"
    say "client role: fullduplex autobahn-client --runtime $RUNTIME against wstest -m fuzzingserver on port $port"
    start=$SECONDS
    "$BIN" autobahn-client --url "ws://127.0.0.1:$port" --agent fullduplex --runtime "$RUNTIME" \
        2>"$REPORTS/${PREFIX}client/testee.log"
    say "client role: the cases ran for $((SECONDS - start)) s"
    "$PY" "$HERE/summarize.py" client "$REPORTS/${PREFIX}client" $EXPECT_FLAG
}

EXPECT_FLAG=""
[[ "${UPDATE_EXPECTED:-}" == 1 ]] && EXPECT_FLAG="--write-expected"

say "building fullduplex (release)"
(cd "$ROOT" && cargo build --release --quiet)
WSTEST="$("$HERE/install.sh" | tail -1)"
PY="$(dirname "$WSTEST")/python"
export PYTHONWARNINGS=ignore

# Each role runs in a process of its own (its testee and its wstest, which keeps a core busy:
# the compression cases of groups 12 and 13 are most of a run's time), so `all` runs the two
# at once and prints each one's log when both are done.
run_role() {
    trap cleanup EXIT
    "run_$1_role"
}

status=0
if [[ "$ROLE" == all ]]; then
    mkdir -p "$REPORTS"
    run_role server >"$REPORTS/${PREFIX}server.out" 2>&1 &
    server_job=$!
    run_role client >"$REPORTS/${PREFIX}client.out" 2>&1 &
    client_job=$!
    wait "$server_job" || status=1
    wait "$client_job" || status=1
    cat "$REPORTS/${PREFIX}server.out" "$REPORTS/${PREFIX}client.out"
else
    "run_${ROLE}_role" || status=1
fi
say "reports: $REPORTS/${PREFIX}server/index.html, $REPORTS/${PREFIX}client/index.html"
exit $status
