#!/usr/bin/env bash
# Slow readers (issue 20, case 2): clients that stop reading must not slow the others down.
#
#   scripts/slow-readers.sh [ci|full|pressure]      (default: ci)
#
# For each send-buffer option of `fullduplex broadcast` (--send-buffer: kernel, lowat:16k,
# lowat:64k, sndbuf:64k; SLOW_OPTIONS overrides the list; SLOW_SERVER_FLAGS adds server flags,
# e.g. --io-uring), one server runs three loads from `fullduplex bench broadcast`, one after
# the other: READERS reading clients alone (the baseline), the same with SLOW more that open
# and never read (--slow), so their receive windows fill, then the baseline again once they
# are gone (the two baselines show the run's noise: the machine is shared). Each option prints
# the reading clients' fan-out latency p50/p99, the server's peak resident memory (VmHWM), the
# peak of /proc/net/sockstat's TCP memory (pages, machine-wide: other programs' sockets count
# too; against net.ipv4.tcp_mem's pressure threshold) and what /metrics counted of the
# slow-consumer policy.
#
# Verdict, for every option but `kernel` (measured for comparison: it is what the others fix):
#   - the readers' p99 with the slow readers is within 2x of the baselines' (the larger of the
#     two, before and after);
#   - the server's peak memory is within baseline + SLOW x QUEUE (QUEUE: --max-outbound-queue);
#   - /metrics counts at least one slow-consumer close or drop per slow reader.
# Exits non-zero on FAIL.
#
#   ci        2 000 clients, 200 of them slow, 4 KiB at 20/s, 10 s per load, queues of 256 KiB,
#             the default option only (lowat:64k)
#   full      10 000 clients, 1 000 of them slow, 4 KiB at 10/s, 30 s per load, 256 KiB queues
#   pressure  the run issue 20 found: 50 readers and 1 000 slow, 4 KiB at 200/s, 20 s per
#             load, 1 MiB queues (the kernel's default goes past tcp_mem's pressure threshold)
set -euo pipefail
cd "$(dirname "$0")/.."

FORM=${1:-ci}
case $FORM in
ci) READERS=1800 SLOW=200 RATE=20 SECONDS_EACH=10 QUEUE=$((256 << 10)) ALL="lowat:64k" ;;
full) READERS=9000 SLOW=1000 RATE=10 SECONDS_EACH=30 QUEUE=$((256 << 10)) ;;
pressure) READERS=50 SLOW=1000 RATE=200 SECONDS_EACH=20 QUEUE=$((1 << 20)) ;;
*)
    echo "usage: $0 [ci|full|pressure]" >&2
    exit 2
    ;;
esac
SIZE=4096
OPTIONS=${SLOW_OPTIONS:-${ALL:-"kernel lowat:16k lowat:64k sndbuf:64k"}}
BIN=${FULLDUPLEX_BIN:-target/release/fullduplex}
ulimit -n 20000

[[ -x $BIN ]] || cargo build --release --bin fullduplex
WORK=$(mktemp -d)
SERVER=""
SAMPLER=""
cleanup() {
    [[ -n $SAMPLER ]] && kill "$SAMPLER" 2>/dev/null
    [[ -n $SERVER ]] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }
sockstat_pages() { awk '$1 == "TCP:" { print $NF }' /proc/net/sockstat; }
metric() { awk -v m="fullduplex_$2" '$1 == m { print $2 }' "$1"; }
json() { python3 -c "import json,sys; d=json.load(open('$1')); print($2)"; }

# Starts the broadcast server with send-buffer option $1 and waits for its address.
start_server() {
    "$BIN" broadcast --addr 127.0.0.1:0 --threads 1 --send-buffer "$1" \
        --max-outbound-queue "$QUEUE" ${SLOW_SERVER_FLAGS:-} >"$WORK/server.out" 2>&1 &
    SERVER=$!
    local tries=0
    until ADDR=$(grep -o 'ws://[0-9.:]*' "$WORK/server.out"); do
        tries=$((tries + 1))
        [[ $tries -lt 300 ]] && kill -0 "$SERVER" || {
            cat "$WORK/server.out" >&2
            return 1
        }
        sleep 0.1
    done
}

# Runs one load (extra bench flags in "$@") into $WORK/$name.json.
load() {
    local name=$1
    shift
    "$BIN" bench broadcast "$ADDR/" -c "$READERS" -s "$SIZE" --rate "$RATE" --inflight 1000 \
        --warmup 2 --duration "$SECONDS_EACH" --json "$@" >"$WORK/$name.json" 2>"$WORK/$name.err" || {
        echo "{\"failed\": \"$(tail -n 1 "$WORK/$name.err" | tr -d '"')\"}" >"$WORK/$name.json"
    }
}

# The reading clients' fan-out latency quantile $2 (p50, p99) in load $1, in whole µs; -1 when
# the load failed.
quantile() { json "$WORK/$1.json" "round(d['fanout_latency_us']['$2']) if 'failed' not in d else -1"; }

# Samples sockstat's TCP pages until killed, keeping the peak in $WORK/sockstat.
sample_sockstat() {
    local peak=0 now
    while :; do
        now=$(sockstat_pages)
        ((now > peak)) && peak=$now && echo "$peak" >"$WORK/sockstat"
        sleep 0.2
    done
}

read -r _ PRESSURE _ < <(sysctl -n net.ipv4.tcp_mem)
echo "slow readers ($FORM): $READERS reading + $SLOW never reading, $SIZE B at $RATE/s," \
    "${SECONDS_EACH}s per load; queue bound $QUEUE B; tcp_mem pressure at $PRESSURE pages"
printf '%-12s %10s %10s %10s %10s %12s %12s %8s %8s  %s\n' option p50_base p99_base \
    p50_slow p99_slow rss_base_MiB rss_peak_MiB tcp_pg closes verdict
FAILED=0
for option in $OPTIONS; do
    start_server "$option"
    load base
    rss_base=$(kib "$SERVER" VmRSS)
    echo 0 >"$WORK/sockstat"
    sample_sockstat &
    SAMPLER=$!
    load slow --slow "$SLOW"
    kill "$SAMPLER"
    wait "$SAMPLER" 2>/dev/null || true
    SAMPLER=""
    curl -sf --max-time 30 "http://${ADDR#ws://}/metrics" >"$WORK/metrics" || {
        echo "no /metrics from the server at $ADDR; its output:" >&2
        tail -n 20 "$WORK/server.out" >&2
        exit 1
    }
    rss_peak=$(kib "$SERVER" VmHWM)
    load again
    kill "$SERVER"
    wait "$SERVER" 2>/dev/null || true
    SERVER=""
    p50b=$(quantile base p50)
    p99b=$(quantile base p99)
    p99a=$(quantile again p99)
    ((p99a > p99b)) && p99b=$p99a
    p50s=$(quantile slow p50)
    p99s=$(quantile slow p99)
    closes=$(metric "$WORK/metrics" slow_consumer_closes_total)
    drops=$(metric "$WORK/metrics" slow_consumer_drops_total)
    pages=$(cat "$WORK/sockstat")
    bound_kib=$((rss_base + SLOW * QUEUE / 1024))
    why=""
    for name in base slow again; do
        why+=$(json "$WORK/$name.json" "' $name load failed: ' + d['failed'] + ';' if 'failed' in d else ''")
    done
    ((p99s >= 0 && p99b >= 0 && p99s <= 2 * p99b)) || why+=" p99 ${p99s}us > 2x ${p99b}us;"
    ((rss_peak <= bound_kib)) || why+=" peak RSS ${rss_peak} KiB > ${bound_kib} KiB;"
    ((closes + drops >= SLOW)) || why+=" /metrics counted $((closes + drops)) of $SLOW slow;"
    if [[ -z $why ]]; then
        verdict=PASS
    elif [[ $option == kernel ]]; then
        verdict="(kernel, no verdict):$why"
    else
        verdict="FAIL:$why"
        FAILED=1
    fi
    printf '%-12s %8dus %8dus %8dus %8dus %12d %12d %8d %8d  %s\n' "$option" "$p50b" "$p99b" \
        "$p50s" "$p99s" $((rss_base / 1024)) $((rss_peak / 1024)) "$pages" "$closes" "$verdict"
done
if ((FAILED)); then
    echo "slow readers ($FORM): FAIL"
    exit 1
fi
echo "slow readers ($FORM): PASS (p99 within 2x of the baseline; peak RSS within baseline +" \
    "$SLOW x $QUEUE B; every slow reader met the policy)"
