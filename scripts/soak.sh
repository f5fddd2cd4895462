#!/usr/bin/env bash
# The soak (issue 20, case 1): `fullduplex chat` under steady chat load for a long time.
#
#   scripts/soak.sh           full form: 10 000 clients in rooms of 100, one message per second
#                             per room, 20 minutes measured; draws docs/soak.png
#   scripts/soak.sh --short   CI form: 2 000 clients, 2 minutes, no chart
#
# The load is `fullduplex bench chat --room-size 100 --rate 1` (every message carries its
# sender's number and sequence number; every receiver checks them per sender). While it runs
# the server's resident memory (VmRSS of /proc/PID/status) and descriptors (/proc/PID/fd) are
# sampled every SOAK_SAMPLE seconds. Verdicts, each printed PASS or FAIL with its bound; the
# script exits 1 on any FAIL:
#   - every client joined, and per sender none lost, repeated or out of order;
#   - the server's RSS at the end of the load is less than 5 % above its RSS after the
#     warm-up (the first 25 % of the measured time): mean of the samples of the 30 s after the
#     warm-up against the mean of the last 30 s of the load;
#   - after the clients leave, the server's descriptors come back to what it had before they
#     came (waited for at most 60 s).
#
# Environment: SOAK_CLIENTS, SOAK_SECONDS (measured), SOAK_SAMPLE (default 5), SOAK_BIN (default
# target/release/fullduplex, built when missing), SOAK_OUT (where the CSVs, the bench's JSON
# and the summary go; default target/soak-full or target/soak-short), SOAK_CHART (the PNG; the
# full form's default docs/soak.png, the short form draws none unless it is set). The chart
# needs gnuplot: it is installed with apt-get (gnuplot-nox) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

FORM=full
case "${1:-}" in
--short) FORM=short ;;
"") ;;
*)
    echo "usage: scripts/soak.sh [--short]" >&2
    exit 2
    ;;
esac
if [[ $FORM == full ]]; then
    CLIENTS=${SOAK_CLIENTS:-10000} SECONDS_MEASURED=${SOAK_SECONDS:-1200}
    CHART=${SOAK_CHART-docs/soak.png}
else
    CLIENTS=${SOAK_CLIENTS:-2000} SECONDS_MEASURED=${SOAK_SECONDS:-120}
    CHART=${SOAK_CHART:-}
fi
SAMPLE=${SOAK_SAMPLE:-5}
BIN=${SOAK_BIN:-target/release/fullduplex}
OUT=${SOAK_OUT:-target/soak-$FORM}
ROOM_SIZE=100
WARMUP=10
GROWTH_BOUND=5
FD_WAIT=60

SERVER_PID="" SAMPLER_PID="" BENCH_PID=""
cleanup() {
    local pid
    for pid in "$BENCH_PID" "$SAMPLER_PID" "$SERVER_PID"; do
        [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    return 0
}
trap cleanup EXIT

say() { printf 'soak: %s\n' "$*"; }

# The server's VmRSS in KiB.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# The server's open descriptors.
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }

# Starts the chat on a free port; sets SERVER_PID and URL.
start_server() {
    : >"$OUT/server.log" # truncated here, so a previous run's address is never read
    "$BIN" chat --addr 127.0.0.1:0 --quiet >"$OUT/server.log" 2>&1 &
    SERVER_PID=$!
    local i addr=""
    for ((i = 0; i < 200; i++)); do
        addr=$(grep -o 'listening on ws://[0-9.:]*' "$OUT/server.log" | head -n 1 | sed 's|.*ws://||') || true
        [[ -n $addr ]] && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [[ -z $addr ]]; then
        say "the chat did not start:"
        cat "$OUT/server.log" >&2
        exit 1
    fi
    URL="ws://$addr/ws"
}

# Samples the server's RSS and descriptors every SAMPLE seconds into samples.csv.
start_sampler() {
    echo "unix_s,rss_kib,fds" >"$OUT/samples.csv"
    (
        while kill -0 "$SERVER_PID" 2>/dev/null; do
            printf '%s,%s,%s\n' "$(date +%s.%N)" "$(rss_kib "$SERVER_PID")" \
                "$(fd_count "$SERVER_PID")" >>"$OUT/samples.csv"
            sleep "$SAMPLE"
        done
    ) &
    SAMPLER_PID=$!
}

run_load() {
    say "$CLIENTS clients in rooms of $ROOM_SIZE, 1 message/s per room, ${SECONDS_MEASURED} s measured, against $URL"
    local status=0
    ulimit -n 20000
    "$BIN" bench chat "$URL" -c "$CLIENTS" --room-size "$ROOM_SIZE" --rate 1 \
        --warmup "$WARMUP" --duration "$SECONDS_MEASURED" \
        --series "$OUT/series.csv" --series-every 10 --json \
        >"$OUT/result.json" 2>"$OUT/bench.log" &
    BENCH_PID=$!
    wait "$BENCH_PID" || status=$?
    BENCH_PID=""
    tail -n 3 "$OUT/bench.log"
    return "$status"
}

# Waits until the server's descriptors are back to $1, at most FD_WAIT seconds; prints the count.
fds_settle() {
    local i now
    for ((i = 0; i < FD_WAIT * 10; i++)); do
        now=$(fd_count "$SERVER_PID")
        ((now <= $1)) && break
        sleep 0.1
    done
    echo "$now"
}

FAILED=0
verdict() { # verdict OK|FAIL TEXT
    if [[ $1 == OK ]]; then
        say "PASS  $2"
    else
        say "FAIL  $2"
        FAILED=1
    fi
}

# Mean RSS (KiB) of the samples with unix time in [$1, $2).
mean_rss() {
    awk -F, -v from="$1" -v to="$2" 'NR > 1 && $1 >= from && $1 < to { s += $2; n++ }
        END { if (n) printf "%.0f", s / n; else print 0 }' "$OUT/samples.csv"
}

check_deliveries() {
    local r=$OUT/result.json
    if [[ ! -s $r ]]; then
        verdict FAIL "the load generator printed no result (see $OUT/bench.log)"
        return
    fi
    local members lost dup reord delivered expected
    members=$(jq .members "$r") lost=$(jq .sequence.lost "$r")
    dup=$(jq .sequence.duplicated "$r") reord=$(jq .sequence.reordered "$r")
    delivered=$(jq .deliveries "$r") expected=$(jq .expected_deliveries "$r")
    [[ $members == "$CLIENTS" ]] && ok=OK || ok=FAIL
    verdict $ok "clients joined: $members of $CLIENTS"
    ((lost == 0 && dup == 0 && reord == 0)) && ok=OK || ok=FAIL
    verdict $ok "per sender: $lost lost, $dup repeated, $reord out of order (bound: 0 each); $delivered of $expected measured deliveries"
    say "latency over the run: delivery p50 $(jq .latency_us.p50 "$r") µs, p99 $(jq .latency_us.p99 "$r") µs; fan-out p99 $(jq .fanout_latency_us.p99 "$r") µs"
}

check_memory() {
    local first start end warm ref_rss end_rss
    first=$(awk -F, 'NR == 2 { printf "%.3f", $1 - $2 }' "$OUT/series.csv")
    end=$(awk -F, 'END { printf "%.3f", $1 }' "$OUT/series.csv")
    if [[ -z $first ]]; then
        verdict FAIL "no latency series was written: RSS growth not measured"
        return
    fi
    start=$(awk -v s="$first" -v w="$WARMUP" 'BEGIN { printf "%.3f", s + w }')
    warm=$(awk -v s="$start" -v d="$SECONDS_MEASURED" 'BEGIN { printf "%.3f", s + d / 4 }')
    ref_rss=$(mean_rss "$warm" "$(awk -v w="$warm" 'BEGIN { printf "%.3f", w + 30 }')")
    end_rss=$(mean_rss "$(awk -v e="$end" 'BEGIN { printf "%.3f", e - 30 }')" "$end")
    local growth
    growth=$(awk -v a="$ref_rss" -v b="$end_rss" 'BEGIN { if (a > 0) printf "%.2f", (b - a) * 100 / a; else print "nan" }')
    local ok
    ok=$(awk -v g="$growth" -v bound="$GROWTH_BOUND" 'BEGIN { print (g != "nan" && g < bound) ? "OK" : "FAIL" }')
    verdict "$ok" "server RSS after warm-up $((ref_rss / 1024)) MiB, at the end $((end_rss / 1024)) MiB: growth $growth % (bound: < $GROWTH_BOUND %)"
    echo "$first" >"$OUT/send-start"
}

draw_chart() {
    [[ -z $CHART ]] && return 0
    if ! command -v gnuplot >/dev/null; then
        say "installing gnuplot-nox for the chart"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox >/dev/null
    fi
    local t0
    t0=$(cat "$OUT/send-start")
    gnuplot <<EOF
set terminal pngcairo size 1000,700 font "sans,10"
set output "$CHART"
set datafile separator ","
set multiplot layout 2,1 title "fullduplex chat soak: $CLIENTS clients, rooms of $ROOM_SIZE, 1 msg/s per room"
set xlabel "minutes since the first message"
set ylabel "delivery latency (ms, log scale)"
set logscale y
set key top left
set grid
plot "$OUT/series.csv" every ::1 using ((\$1 - $t0) / 60):(\$5 / 1000) with lines lw 2 title "p50 (10 s windows)", \
     "" every ::1 using ((\$1 - $t0) / 60):(\$6 / 1000) with lines lw 2 title "p99 (10 s windows)"
unset logscale y
set ylabel "server RSS (MiB)"
set yrange [0:*]
set y2range [0:*]
set y2label "server descriptors"
set y2tics
set ytics nomirror
plot "$OUT/samples.csv" every ::1 using ((\$1 - $t0) / 60):(\$2 / 1024) with lines lw 2 title "RSS", \
     "" every ::1 using ((\$1 - $t0) / 60):3 axes x1y2 with lines title "descriptors"
unset multiplot
EOF
    say "chart: $CHART"
}

main() {
    mkdir -p "$OUT"
    if [[ ! -x $BIN ]]; then
        cargo build --release --bin fullduplex
    fi
    ulimit -n 20000
    start_server
    local base_fds base_rss
    base_fds=$(fd_count "$SERVER_PID") base_rss=$(rss_kib "$SERVER_PID")
    say "chat pid $SERVER_PID: $base_fds descriptors, RSS $((base_rss / 1024)) MiB before the clients"
    start_sampler
    local load=0
    run_load || load=$?
    ((load == 0)) || say "the load generator exited with status $load"
    local after
    after=$(fds_settle "$base_fds")
    [[ $after -le $base_fds ]] && ok=OK || ok=FAIL
    verdict $ok "server descriptors after the clients left: $after (before they came: $base_fds; waited at most $FD_WAIT s)"
    check_deliveries
    check_memory
    kill "$SAMPLER_PID" 2>/dev/null && wait "$SAMPLER_PID" 2>/dev/null || true
    SAMPLER_PID=""
    draw_chart
    if ((FAILED)); then
        say "FAIL ($FORM form; figures in $OUT)"
        exit 1
    fi
    say "PASS ($FORM form; figures in $OUT)"
}

main
