#!/usr/bin/env bash
# Side by side: fullduplex and its peers, the same load, the same machine, the same run.
# Builds fullduplex and every peer from the package registries, runs each case against each
# server pinned to core 1 with the load generator on core 0, and writes results/RESULTS.md.
#
#   benches/compare/run.sh                # the full comparison (medians of 3 runs)
#   QUICK=1 benches/compare/run.sh        # a smoke test: 1 short run of a few cases
#   SET=tokio benches/compare/run.sh      # the tokio adapter against tokio-tungstenite and
#                                         # fastwebsockets, into results/tokio/
#   SET=io-uring benches/compare/run.sh   # the io_uring runtime against mio and uWS C++,
#                                         # into results/io-uring/
#   SET=large benches/compare/run.sh      # 16 KiB to 1 MiB messages, into results/large/
#
# Environment: QUICK, SET, BASELINE (another fullduplex binary, run as the peer fullduplex-base:
# a change measured before and after in the same run), INTERLEAVE (1: each run visits every server in turn), RUNS, DURATION, WARMUP (seconds), PEERS (space-separated subset),
# CASES (subset of the case names below), SCRATCH (build dir, default .scratch here),
# RESULTS (output dir, default results here).
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
scratch="${SCRATCH:-$here/.scratch}"
quick="${QUICK:-0}"
if [ "$quick" = 1 ]; then
    runs="${RUNS:-1}" duration="${DURATION:-1}" warmup="${WARMUP:-0.5}" idle_conns=1000
    default_cases="echo-100x20 echo-10x16k bcast-1000x16 mem-idle mem-idle-deflate echo-deflate-json"
else
    runs="${RUNS:-3}" duration="${DURATION:-5}" warmup="${WARMUP:-1}" idle_conns=10000
    default_cases="echo-100x20 echo-10x1k echo-10x16k echo-200x16k echo-500x16k
        bcast-1000x16 bcast-1000x1k mem-idle mem-idle-deflate echo-deflate-json"
fi
default_peers="raw-tcp fullduplex fullduplex-tokio uws-cpp uws-js fastwebsockets tokio-tungstenite node-ws python-websockets"
default_results="$here/results"
if [ "${SET:-}" = tokio ]; then
    # The tokio adapter against the async crates (issue 17): its own results directory.
    default_cases="echo-100x16 echo-100x1k echo-100x16k bcast-1000x16"
    default_peers="fullduplex fullduplex-tokio tokio-tungstenite fastwebsockets"
    default_results="$here/results/tokio"
    default_interleave=1
elif [ "${SET:-}" = io-uring ]; then
    # The io_uring runtime's goals (issue 18): against the mio runtime and uWS C++.
    default_cases="echo-100x16 echo-100x1k bcast-1000x16 mem-idle"
    default_peers="fullduplex fullduplex-io-uring uws-cpp"
    default_results="$here/results/io-uring"
    default_interleave=1
elif [ "${SET:-}" = large ]; then
    # Large messages (issue 18): 16 KiB to 1 MiB, and 1 MiB throughput against raw TCP.
    default_cases="echo-10x16k echo-100x16k echo-10x64k echo-100x64k echo-10x1m echo-100x1m"
    default_peers="raw-tcp fullduplex fastwebsockets uws-js uws-cpp"
    default_results="$here/results/large"
    default_interleave=1
fi
interleave="${INTERLEAVE:-${default_interleave:-0}}"
cases="${CASES:-$default_cases}"
peers="${PEERS:-$default_peers}"
if [ -n "${BASELINE:-}" ] && [ -z "${PEERS:-}" ]; then
    peers="fullduplex-base $peers"
fi
results="${RESULTS:-$default_results}"
mkdir -p "$scratch" "$results"
raw_out="$results/raw.jsonl"
meta="$results/meta.txt"
status="$scratch/status"
mkdir -p "$status"
: > "$raw_out"

log() { echo "[compare $(date -u +%H:%M:%S)] $*" >&2; }

# ---------------------------------------------------------------- builds

build_fullduplex() {
    (cd "$root" && cargo build --release --quiet) || return 1
    fullduplex="${CARGO_TARGET_DIR:-$root/target}/release/fullduplex"
}

build_crate() { # DIR BIN
    CARGO_TARGET_DIR="$scratch/target" cargo build --release --locked --quiet \
        --manifest-path "$here/peers/$1/Cargo.toml" && [ -x "$scratch/target/release/$2" ]
}

build_node() {
    mkdir -p "$scratch/node"
    cp "$here/peers/node/package.json" "$here/peers/node/package-lock.json" \
        "$here/peers/node/"*.js "$scratch/node/" &&
        (cd "$scratch/node" && npm ci --ignore-scripts --no-audit --no-fund --silent)
}

build_python() {
    [ -x "$scratch/venv/bin/python" ] || python3 -m venv "$scratch/venv" || return 1
    "$scratch/venv/bin/pip" install --quiet -r "$here/peers/python/requirements.txt"
}

build_peer() { # PEER → 0 when it can run
    case "$1" in
        raw-tcp) build_crate raw-tcp raw-tcp-echo ;;
        fullduplex | fullduplex-io-uring) true ;;
        fullduplex-base) [ -x "${BASELINE:-}" ] ;;
        uws-cpp) "$here/peers/uws-cpp/build.sh" "$scratch" > "$scratch/uws-build.log" 2>&1 ;;
        uws-js) [ -f "$scratch/node/package-lock.json" ] || build_node ;;
        node-ws) [ -f "$scratch/node/package-lock.json" ] || build_node ;;
        fastwebsockets) build_crate fastwebsockets fastwebsockets-peer ;;
        tokio-tungstenite) build_crate tokio-tungstenite tokio-tungstenite-peer ;;
        fullduplex-tokio) build_crate fullduplex-tokio fullduplex-tokio-peer ;;
        python-websockets) build_python ;;
        *) return 1 ;;
    esac
}

# ---------------------------------------------------------------- servers

# The command line of PEER's server in MODE (echo|broadcast) on PORT; DEFLATE is 1 to enable
# permessage-deflate. Prints nothing when the peer lacks that mode or deflate.
server_cmd() { # PEER MODE PORT DEFLATE
    local peer=$1 mode=$2 port=$3 deflate=$4 d=""
    [ "$deflate" = 1 ] && d=deflate
    case "$peer" in
        raw-tcp) [ "$mode" = echo ] && [ "$deflate" = 0 ] && echo "$scratch/target/release/raw-tcp-echo $port" ;;
        fullduplex)
            if [ "$mode" = echo ]; then
                echo "$fullduplex echo --addr 127.0.0.1:$port --threads 1${d:+ --deflate}"
            elif [ "$deflate" = 0 ]; then
                echo "$fullduplex broadcast --addr 127.0.0.1:$port --threads 1"
            fi ;;
        fullduplex-base)
            if [ "$mode" = echo ]; then
                echo "$BASELINE echo --addr 127.0.0.1:$port --threads 1${d:+ --deflate}"
            elif [ "$deflate" = 0 ]; then
                echo "$BASELINE broadcast --addr 127.0.0.1:$port --threads 1"
            fi ;;
        fullduplex-io-uring)
            if [ "$mode" = echo ]; then
                echo "$fullduplex echo --addr 127.0.0.1:$port --threads 1 --io-uring${d:+ --deflate}"
            elif [ "$deflate" = 0 ]; then
                echo "$fullduplex broadcast --addr 127.0.0.1:$port --threads 1 --io-uring"
            fi ;;
        uws-cpp) echo "$scratch/uws-cpp/uws-server $mode $port $d" ;;
        uws-js) echo "node $scratch/node/uws-server.js $mode $port $d" ;;
        node-ws) echo "node $scratch/node/ws-server.js $mode $port $d" ;;
        fastwebsockets) [ "$deflate" = 0 ] && echo "$scratch/target/release/fastwebsockets-peer $mode $port" ;;
        tokio-tungstenite) [ "$deflate" = 0 ] && echo "$scratch/target/release/tokio-tungstenite-peer $mode $port" ;;
        fullduplex-tokio)
            if [ "$mode" = echo ] || [ "$deflate" = 0 ]; then
                echo "$scratch/target/release/fullduplex-tokio-peer $mode $port $d"
            fi ;;
        python-websockets) echo "$scratch/venv/bin/python $here/peers/python/server.py $mode $port $d" ;;
    esac
}

port=19100
server_pid=""

start_server() { # CMD... → sets server_pid, 0 once it listens
    port=$((port + 1))
    local cmd
    cmd="$(server_cmd "$1" "$2" "$port" "$3")"
    [ -n "$cmd" ] || return 2
    # shellcheck disable=SC2086
    taskset -c 1 $cmd > "$scratch/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        if ss -Hltn "sport = :$port" | grep -q LISTEN; then
            return 0
        fi
        kill -0 "$server_pid" 2> /dev/null || break
        sleep 0.1
    done
    log "$1 did not listen on $port: $(tail -n 3 "$scratch/server.log")"
    stop_server
    return 1
}

stop_server() {
    [ -n "$server_pid" ] || return 0
    kill "$server_pid" 2> /dev/null
    wait "$server_pid" 2> /dev/null
    server_pid=""
}

# ---------------------------------------------------------------- cases

# CASE → "KIND DEFLATE ARGS...": how the load generator runs it.
case_spec() {
    case "$1" in
        echo-100x20) echo "echo 0 -c 100 -s 20" ;;
        echo-100x16) echo "echo 0 -c 100 -s 16" ;;
        echo-100x1k) echo "echo 0 -c 100 -s 1024" ;;
        echo-100x16k) echo "echo 0 -c 100 -s 16384" ;;
        echo-10x1k) echo "echo 0 -c 10 -s 1024" ;;
        echo-10x16k) echo "echo 0 -c 10 -s 16384" ;;
        echo-10x64k) echo "echo 0 -c 10 -s 65536" ;;
        echo-100x64k) echo "echo 0 -c 100 -s 65536" ;;
        echo-10x1m) echo "echo 0 -c 10 -s 1048576" ;;
        echo-100x1m) echo "echo 0 -c 100 -s 1048576" ;;
        echo-200x16k) echo "echo 0 -c 200 -s 16384" ;;
        echo-500x16k) echo "echo 0 -c 500 -s 16384" ;;
        echo-deflate-json) echo "echo 1 -c 100 -s 512 --payload chat-json --deflate" ;;
        bcast-1000x16) echo "broadcast 0 -c 1000 -s 16 --inflight 32" ;;
        bcast-1000x1k) echo "broadcast 0 -c 1000 -s 1024 --inflight 32" ;;
        mem-idle) echo "connect 0 -n $idle_conns" ;;
        mem-idle-deflate) echo "connect 1 -n $idle_conns --deflate" ;;
    esac
}

record() { # PEER CASE RUN JSON
    printf '{"peer":"%s","case":"%s","run":%s,"result":%s}\n' "$1" "$2" "$3" "$4" >> "$raw_out"
}

run_one() { # PEER CASE RUN KIND ARGS...
    local peer=$1 case_name=$2 run=$3 kind=$4
    shift 4
    local mode=echo extra=() out
    [ "$kind" = broadcast ] && mode=broadcast
    [ "$peer" = raw-tcp ] && extra=(--raw)
    if [ "$kind" = connect ]; then
        extra+=(--duration 2)
    else
        extra+=(--duration "$duration" --warmup "$warmup")
    fi
    out=$(timeout $((${duration%.*} + 150)) taskset -c 0 "$fullduplex" bench "$kind" \
        "ws://127.0.0.1:$port/" "$@" "${extra[@]}" --pid "$server_pid" --json \
        2> "$scratch/bench.log")
    if [ -n "$out" ] && [ "${out:0:1}" = "{" ]; then
        record "$peer" "$case_name" "$run" "$out"
    else
        local why
        why=$(tail -n 1 "$scratch/bench.log" | tr -d '"\\' | cut -c1-200)
        log "$peer $case_name run $run failed: $why"
        record "$peer" "$case_name" "$run" "{\"error\":\"$why\"}"
    fi
}

# Whether PEER runs the case (KIND MODE DEFLATE).
runs_case() { # PEER KIND MODE DEFLATE
    [ -n "$(server_cmd "$1" "$3" 0 "$4")" ] && ! { [ "$2" = connect ] && [ "$1" = raw-tcp ]; }
}

# One run of CASE against each server in turn, a fresh server each, then the next run: a
# burst of load on the shared machine then falls on one run of every server, not on all the
# runs of one (INTERLEAVE=1).
run_case_interleaved() { # CASE KIND MODE DEFLATE ARGS...
    local case_name=$1 kind=$2 mode=$3 deflate=$4
    shift 4
    for run in $(seq 1 "$runs"); do
        for peer in $ready; do
            runs_case "$peer" "$kind" "$mode" "$deflate" || continue
            start_server "$peer" "$mode" "$deflate" || { record "$peer" "$case_name" "$run" '{"error":"server did not start"}'; continue; }
            log "$case_name $peer run $run/$runs"
            run_one "$peer" "$case_name" "$run" "$kind" "$@"
            stop_server
        done
    done
}

run_case() { # CASE
    local spec kind deflate
    spec=$(case_spec "$1")
    [ -n "$spec" ] || { log "unknown case $1"; return; }
    read -r kind deflate args <<< "$spec"
    local mode=echo
    [ "$kind" = broadcast ] && mode=broadcast
    if [ "$interleave" = 1 ]; then
        # shellcheck disable=SC2086
        run_case_interleaved "$1" "$kind" "$mode" "$deflate" $args
        return
    fi
    for peer in $ready; do
        runs_case "$peer" "$kind" "$mode" "$deflate" || continue
        for run in $(seq 1 "$runs"); do
            # Idle memory needs a fresh server each run; the other cases reuse one.
            if [ -z "$server_pid" ]; then
                start_server "$peer" "$mode" "$deflate" || { record "$peer" "$1" "$run" '{"error":"server did not start"}'; continue; }
            fi
            log "$1 $peer run $run/$runs"
            # shellcheck disable=SC2086
            run_one "$peer" "$1" "$run" "$kind" $args
            [ "$kind" = connect ] && stop_server
        done
        stop_server
    done
}

# ---------------------------------------------------------------- main

ulimit -n "$(ulimit -Hn)"
trap stop_server EXIT
log "building fullduplex (release)"
build_fullduplex || { log "fullduplex did not build"; exit 1; }
ready=""
for peer in $peers; do
    log "building $peer"
    if build_peer "$peer"; then
        ready="$ready $peer"
        echo ok > "$status/$peer"
    else
        log "$peer did not build: left out"
        echo "did not build (see $scratch)" > "$status/$peer"
    fi
done

versions() {
    local lock=$here/peers
    ver_of() { grep -A1 "^name = \"$2\"$" "$lock/$1/Cargo.lock" | sed -n 's/version = "\(.*\)"/\1/p'; }
    echo "fullduplex: $(git -C "$root" describe --always --dirty 2> /dev/null)"
    [ -n "${BASELINE:-}" ] && echo "fullduplex-base: $BASELINE"
    echo "raw-tcp: mio $(ver_of raw-tcp mio)"
    echo "uws-cpp: uWebSockets/uSockets sources of crates.io libuwebsockets-sys 0.0.10, $(g++ --version | head -n1)"
    echo "uws-js: @trufflesuite/uws-js-unofficial $(node -p "require('$scratch/node/node_modules/@trufflesuite/uws-js-unofficial/package.json').version" 2> /dev/null), node $(node --version)"
    echo "fastwebsockets: $(ver_of fastwebsockets fastwebsockets), tokio $(ver_of fastwebsockets tokio), hyper $(ver_of fastwebsockets hyper)"
    echo "tokio-tungstenite: $(ver_of tokio-tungstenite tokio-tungstenite), tokio $(ver_of tokio-tungstenite tokio)"
    echo "fullduplex-tokio: this repository's fullduplex::tokio, tokio $(ver_of fullduplex-tokio tokio)"
    echo "node-ws: ws $(node -p "require('$scratch/node/node_modules/ws/package.json').version" 2> /dev/null), node $(node --version)"
    echo "python-websockets: websockets $("$scratch/venv/bin/python" -c 'import websockets; print(websockets.__version__)' 2> /dev/null), $("$scratch/venv/bin/python" --version 2>&1)"
    echo "rustc: $(rustc --version)"
}

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "kernel: $(uname -sr)"
    echo "runs: $runs × ${duration} s measured after ${warmup} s warm-up$([ "$interleave" = 1 ] && echo ", servers interleaved run by run"); idle connections: $idle_conns"
    echo "load before: $(uptime | sed 's/.*load average/load average/')"
    for peer in $peers; do echo "status $peer: $(cat "$status/$peer")"; done
    versions | sed 's/^/version /'
} > "$meta"

for case_name in $cases; do
    echo "load at $case_name: $(uptime | sed 's/.*load average/load average/')" >> "$meta"
    run_case "$case_name"
done
echo "load after: $(uptime | sed 's/.*load average/load average/')" >> "$meta"

python3 "$here/compare.py" "$raw_out" --meta "$meta" --out "$results/RESULTS.md"
