#!/usr/bin/env bash
# 100 000 concurrent chat clients on this one machine (issue 20, case 6).
#
#   scripts/scale-100k.sh [--short]
#
# --short is the CI form (stage `reliability`): 20 000 clients on 2 nodes from 2 generators,
# 500 joins/s each, 10 s warm-up and 20 s measured, the same checks (about a minute).
#
# Starts a redis-server and SCALE_NODES `fullduplex chat --redis` nodes on loopback ports of
# their own (each under the descriptor limit of 20 000 per process), then SCALE_GENERATORS
# `fullduplex bench chat` processes, each with its share of the clients spread round-robin
# over every node (so each room of 100 has members on every node and every message crosses
# Redis) and over SCALE_SOURCES source addresses of 127.0.0.0/8 (--source-addrs), rooms of
# 100, one message per second per room. While they run it samples the nodes' resident memory,
# /proc/net/sockstat, the kernel's slab and Redis's INFO. It prints memory per connection (user
# space: the nodes' RSS; kernel: sockstat's TCP buffers and the slab, both ends of each
# connection being on this machine), the nodes' CPU,
# fan-out latency p50/p99 per generator, Redis's CPU and commands per second; PASS when every
# client joined and every generator accounted for every delivery per sender, else FAIL
# (exit 1).
#
# Environment: SCALE_CLIENTS (100000), SCALE_NODES (6), SCALE_GENERATORS (6), SCALE_SOURCES
# (16), SCALE_SECONDS measured (60), SCALE_WARMUP (20), SCALE_RATE messages per second per room (1), SCALE_JOIN_RATE (connections started per second by each
# generator, 250: all at once, the presence notices of 100 000 joins swamp 2 cores), SCALE_BIN (target/release/fullduplex, built when
# missing), SCALE_OUT (target/scale-100k). Installs redis-server and jq with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
    --short) SHORT=1 ;;
    "") SHORT=0 ;;
    *) echo "usage: scripts/scale-100k.sh [--short]   (got: $1)" >&2; exit 2 ;;
esac
if ((SHORT)); then
    : "${SCALE_CLIENTS:=20000}" "${SCALE_NODES:=2}" "${SCALE_GENERATORS:=2}" "${SCALE_SECONDS:=20}"
    : "${SCALE_JOIN_RATE:=500}" "${SCALE_WARMUP:=10}" "${SCALE_OUT:=target/scale-short}"
fi
CLIENTS=${SCALE_CLIENTS:-100000}
NODES=${SCALE_NODES:-6}
GENERATORS=${SCALE_GENERATORS:-6}
SOURCES=${SCALE_SOURCES:-16}
SECONDS_MEASURED=${SCALE_SECONDS:-60}
JOIN_RATE=${SCALE_JOIN_RATE:-250}
RATE=${SCALE_RATE:-1}
BIN=${SCALE_BIN:-target/release/fullduplex}
OUT=${SCALE_OUT:-target/scale-100k}
WARMUP=${SCALE_WARMUP:-20}
SAMPLE=5

PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

say() { printf 'scale-100k: %s\n' "$*"; }

need_tools() {
    local missing=()
    command -v redis-server >/dev/null || missing+=(redis-server)
    command -v jq >/dev/null || missing+=(jq)
    ((${#missing[@]} == 0)) && return 0
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (at most 20 s) for file $1 to contain "listening on ws://ADDR"; prints ADDR.
listening_addr() {
    local i addr=""
    for ((i = 0; i < 200; i++)); do
        addr=$(grep -o 'listening on ws://[0-9.:]*' "$1" | head -n 1 | sed 's|.*ws://||') || true
        [[ -n $addr ]] && break
        sleep 0.1
    done
    [[ -n $addr ]] || { say "a node did not start: $(cat "$1")"; exit 1; }
    echo "$addr"
}

REDIS_PORT=""
start_redis() {
    REDIS_PORT=$(free_port)
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        >"$OUT/redis.log" 2>&1 &
    PIDS+=($!)
    local i
    for ((i = 0; i < 100; i++)); do
        redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    say "redis-server did not start: $(cat "$OUT/redis.log")"
    exit 1
}

NODE_PIDS=() URLS=()
start_nodes() {
    local i
    for ((i = 0; i < NODES; i++)); do
        : >"$OUT/node$i.log" # truncated here, so a previous run's address is never read
        "$BIN" chat --addr 127.0.0.1:0 --quiet --redis "redis://127.0.0.1:$REDIS_PORT" \
            --node-id "node$i" >"$OUT/node$i.log" 2>&1 &
        PIDS+=($!) NODE_PIDS+=($!)
        URLS+=("ws://$(listening_addr "$OUT/node$i.log")/ws")
    done
}

# Sum of the nodes' VmRSS in KiB.
nodes_rss() {
    local pid sum=0 kib
    for pid in "${NODE_PIDS[@]}"; do
        kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
        sum=$((sum + kib))
    done
    echo "$sum"
}

# The nodes' CPU seconds so far (user + system).
nodes_cpu() {
    local pid ticks=0 stat
    for pid in "${NODE_PIDS[@]}"; do
        stat=$(cat "/proc/$pid/stat") stat=${stat##*) }
        ticks=$((ticks + $(awk '{ print $12 + $13 }' <<<"$stat")))
    done
    awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'
}

# sockstat's TCP sockets in use and memory pages: "inuse mem".
tcp_sockstat() { awk '$1 == "TCP:" { print $3, $NF }' /proc/net/sockstat; }

# The kernel's slab memory in KiB (sockets, their files, epoll entries: what a connection
# costs the kernel besides its buffers, which sockstat counts).
slab_kib() { awk '$1 == "Slab:" { print $2 }' /proc/meminfo; }

redis_info() { redis-cli -p "$REDIS_PORT" INFO "$1" | tr -d '\r'; }
redis_cpu() { redis_info cpu | awk -F: '/^used_cpu_(user|sys):/ { s += $2 } END { printf "%.2f", s }'; }
redis_commands() { redis_info stats | awk -F: '/^total_commands_processed:/ { print $2 }'; }

start_sampler() {
    echo "unix_s,nodes_rss_kib,tcp_inuse,tcp_mem_pages,redis_ops_per_sec,slab_kib" >"$OUT/samples.csv"
    (
        while true; do
            printf '%s,%s,%s,%s,%s\n' "$(date +%s)" "$(nodes_rss)" \
                "$(tcp_sockstat | tr ' ' ,)" \
                "$(redis_info stats | awk -F: '/^instantaneous_ops_per_sec:/ { print $2 }')" \
                "$(slab_kib)" >>"$OUT/samples.csv"
            sleep "$SAMPLE"
        done
    ) &
    SAMPLER=$!
    PIDS+=("$SAMPLER")
}

GEN_PIDS=()
start_generators() {
    local g per=$((CLIENTS / GENERATORS)) urls
    urls=$(IFS=,; echo "${URLS[*]:1}")
    for ((g = 0; g < GENERATORS; g++)); do
        (
            ulimit -n 20000
            exec "$BIN" bench chat "${URLS[0]}" ${urls:+--url "$urls"} -c "$per" \
                --room "g$g" --room-size 100 --rate "$RATE" --source-addrs "$SOURCES" --join-rate "$JOIN_RATE" \
                --warmup "$WARMUP" --duration "$SECONDS_MEASURED" --json \
                --series "$OUT/gen$g.series.csv" --series-every 5 \
                >"$OUT/gen$g.json" 2>"$OUT/gen$g.log"
        ) &
        PIDS+=($!) GEN_PIDS+=($!)
    done
}

FAILED=0
report() {
    local g status=0 joined=0 r
    for ((g = 0; g < GENERATORS; g++)); do
        r=$OUT/gen$g.json
        if [[ ! -s $r ]]; then
            say "FAIL  generator $g printed no result: $(tail -n 2 "$OUT/gen$g.log")"
            FAILED=1
            continue
        fi
        joined=$((joined + $(jq .members "$r")))
        say "generator $g: $(jq -r 'def ms(us): us / 100 | round / 10; "\(.members) members, \(.deliveries) of \(.expected_deliveries) deliveries, fan-out p50 \(ms(.fanout_latency_us.p50)) ms p99 \(ms(.fanout_latency_us.p99)) ms, delivery p50 \(ms(.latency_us.p50)) ms p99 \(ms(.latency_us.p99)) ms; per sender: \(.sequence.lost) lost, \(.sequence.duplicated) repeated, \(.sequence.reordered) out of order"' "$r")"
        [[ $(jq .sequence.passed "$r") == true ]] || FAILED=1
    done
    local per=$((CLIENTS / GENERATORS * GENERATORS))
    ((joined == per)) && say "PASS  clients joined: $joined of $per" ||
        { say "FAIL  clients joined: $joined of $per"; FAILED=1; }
}

main() {
    mkdir -p "$OUT"
    [[ -x $BIN ]] || cargo build --release --bin fullduplex
    need_tools
    ulimit -n 20000
    start_redis
    start_nodes
    local rss0 sock0 slab0 ncpu0 cpu0 cmd0 t0
    rss0=$(nodes_rss) sock0=$(tcp_sockstat) slab0=$(slab_kib) ncpu0=$(nodes_cpu) cpu0=$(redis_cpu) cmd0=$(redis_commands) t0=$(date +%s)
    say "$NODES nodes (${URLS[*]}), redis on port $REDIS_PORT; nodes' RSS $((rss0 / 1024)) MiB, TCP inuse/mem pages $sock0"
    start_sampler
    say "$GENERATORS generators, $CLIENTS clients, rooms of 100, $RATE msg/s per room, $SOURCES source addresses, $JOIN_RATE joins/s per generator, ${SECONDS_MEASURED} s measured"
    start_generators
    local pid
    for pid in "${GEN_PIDS[@]}"; do
        wait "$pid" || true
    done
    local cpu1 cmd1 t1 ncpu1
    cpu1=$(redis_cpu) cmd1=$(redis_commands) ncpu1=$(nodes_cpu) t1=$(date +%s)
    report
    # The peak: the sample with the most TCP sockets in use.
    local peak
    peak=$(awk -F, 'NR > 1 && $3 > best { best = $3; line = $0 } END { print line }' "$OUT/samples.csv")
    local rss1 inuse1 mem1 inuse0 mem0 slab1
    IFS=, read -r _ rss1 inuse1 mem1 _ slab1 <<<"$peak"
    read -r inuse0 mem0 <<<"$sock0"
    local conns=$(((inuse1 - inuse0) / 2))
    say "at the peak: $conns connections (TCP sockets in use $inuse1, both ends here)"
    say "user space: nodes' RSS $((rss0 / 1024)) -> $((rss1 / 1024)) MiB: $(((rss1 - rss0) * 1024 / (conns > 0 ? conns : 1))) bytes per connection"
    say "kernel: TCP buffers $mem0 -> $mem1 pages: $(((mem1 - mem0) * 4096 / (conns > 0 ? conns : 1))) bytes per connection; slab $((slab0 / 1024)) -> $((slab1 / 1024)) MiB: $(((slab1 - slab0) * 1024 / (conns > 0 ? conns : 1))) bytes per connection (both ends of each are on this machine)"
    say "nodes: $(awk -v a="$ncpu0" -v b="$ncpu1" -v t=$((t1 - t0)) 'BEGIN { printf "%.1f CPU seconds over %d s (%.2f cores)", b - a, t, (b - a) / t }')"
    say "redis: $(awk -v a="$cpu0" -v b="$cpu1" -v t=$((t1 - t0)) 'BEGIN { printf "%.2f CPU seconds over %d s (%.1f %% of a core)", b - a, t, (b - a) * 100 / t }'), $(((cmd1 - cmd0) / (t1 - t0))) commands/s, peak $(awk -F, 'NR > 1 && $5 > m { m = $5 } END { print m }' "$OUT/samples.csv") ops/s; RSS $(redis_info memory | awk -F: '/^used_memory_rss_human:/ { print $2 }')"
    if ((FAILED)); then
        say "FAIL (figures in $OUT)"
        exit 1
    fi
    say "PASS (figures in $OUT)"
}

main
