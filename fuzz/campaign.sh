#!/usr/bin/env bash
# A long fuzzing campaign: every target for at least CPU_SECONDS of its own CPU time (default
# 1 800, half an hour), JOBS targets at a time (default: the number of cores), then each
# target's corpus minimised and its source coverage measured.
#
#   fuzz/campaign.sh [CPU_SECONDS] [JOBS]   # fuzz, minimise, measure coverage, summarise
#   fuzz/campaign.sh ... --keep              # and add the minimised finds to corpus/
#   fuzz/campaign.sh --report [--keep]       # minimise, cover and summarise the last campaign
#
# The budget is CPU time, not wall time: on a machine shared with builds a target that waits
# for a core is not charged for the wait, so "30 minutes" means 30 minutes of fuzzing. A target
# is stopped with SIGINT once its fuzzer process has used the budget (libFuzzer then prints its
# final statistics); a wall-clock cap of three times the budget stops a starved run anyway and
# says so.
#
# Everything is kept under fuzz/.campaign/ (not committed; CAMPAIGN_DIR moves it): the grown
# corpus of each target (corpus/T), libFuzzer's log (logs/T.log), crashing inputs
# (artifacts/T, also copied to fuzz/artifacts/T), the minimised corpus (min/T: the committed
# corpus and the fewest grown inputs that add to its coverage) and the coverage reports
# (coverage/T.txt, all.txt).
# A crash does not end the campaign: the input is kept, the target restarts from its corpus
# for the rest of its budget, and the script exits 1 at the end.
#
# Needs the nightly toolchain, cargo-fuzz and nightly's llvm-tools (installed if absent).
set -euo pipefail

keep=0
report_only=0
args=()
for a in "$@"; do
    case "$a" in
        --keep) keep=1 ;;
        --report) report_only=1 ;;
        -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
        *) args+=("$a") ;;
    esac
done
budget="${args[0]:-1800}"
jobs="${args[1]:-$(nproc)}"
if ! [[ "$budget" =~ ^[0-9]+$ && "$jobs" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: fuzz/campaign.sh [CPU_SECONDS] [JOBS] [--keep] | --report [--keep]   (got: $*)" >&2
    exit 2
fi

here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
out="${CAMPAIGN_DIR:-$here/.campaign}"
mkdir -p "$out"/{corpus,logs,artifacts,min,coverage,stats}

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# Same build as the CI run (fuzz/run.sh): no sanitizer, debug assertions and overflow checks on.
cargo +nightly fuzz build --sanitizer none
triple="$(rustc +nightly -vV | sed -n 's/^host: //p')"
bin_dir="$here/target/$triple/release"
tick="$(getconf CLK_TCK)"

dict_for() {
    case "$1" in
        handshake_request | handshake_response | extensions_header) echo "-dict=$here/dict/handshake.dict" ;;
    esac
}

# CPU seconds (user + system) used so far by process $1, 0 once it is gone.
cpu_of() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || { echo 0; return; }
    # Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
    stat="${stat##*) }"
    read -r -a f <<<"$stat"
    echo $(((f[11] + f[12]) / tick))
}

# Fuzzes target $1 until its fuzzer processes have used $budget CPU seconds in all.
fuzz_target() {
    local target="$1" corpus="$out/corpus/$1" log="$out/logs/$1.log"
    local used=0 crashes=0 started=$SECONDS wall_cap=$((budget * 3)) capped=0
    mkdir -p "$corpus" "$out/artifacts/$target"
    cp -rn "$here/corpus/$target/." "$corpus/" 2>/dev/null || true
    : >"$log"
    while ((used < budget)); do
        # shellcheck disable=SC2046
        "$bin_dir/$target" "$corpus" -rss_limit_mb=2048 -print_final_stats=1 \
            -max_total_time=$((wall_cap - (SECONDS - started) + 1)) \
            -artifact_prefix="$out/artifacts/$target/" $(dict_for "$target") >>"$log" 2>&1 &
        local pid=$! cpu=0
        while kill -0 "$pid" 2>/dev/null; do
            cpu="$(cpu_of "$pid")"
            if ((used + cpu >= budget)); then
                kill -INT "$pid" 2>/dev/null || true
                break
            fi
            if ((SECONDS - started >= wall_cap)); then
                capped=1
                kill -INT "$pid" 2>/dev/null || true
                break
            fi
            sleep 2
        done
        local rc=0
        wait "$pid" || rc=$?
        used=$((used + cpu))
        # 0: max_total_time reached; 72: our SIGINT (libFuzzer's interrupt exit code).
        if ((rc != 0 && rc != 72)); then
            crashes=$((crashes + 1))
            echo "fuzz/campaign.sh: $target stopped with $rc after $used CPU s; restarting" >>"$log"
        fi
        if ((rc == 0)); then capped=1; fi
        if ((capped)); then break; fi
    done
    local wall=$((SECONDS - started))
    if ((crashes)); then
        mkdir -p "$here/artifacts/$target"
        cp "$out/artifacts/$target/"* "$here/artifacts/$target/" 2>/dev/null || true
    fi
    echo "$used $wall $crashes $capped" >"$out/stats/$target"
}

targets=($(cargo +nightly fuzz list))
# The slowest, widest targets first, so the short ones fill the last slots.
order=(connection_server connection_client inflate handshake_response handshake_request
    extensions_header utf8 frame_header mask)
queue=()
for t in "${order[@]}" "${targets[@]}"; do
    [[ " ${targets[*]} " == *" $t "* && " ${queue[*]} " != *" $t "* ]] && queue+=("$t")
done

running=0
((report_only)) || echo "campaign: ${#queue[@]} targets, ${budget} CPU s each, $jobs at a time, in $out"
((report_only)) || for t in "${queue[@]}"; do
    if ((running >= jobs)); then
        wait -n
        running=$((running - 1))
    fi
    echo "  start $t at $(date -u +%H:%M:%S)"
    fuzz_target "$t" &
    running=$((running + 1))
done
wait

# Minimise: the committed corpus (the named seeds of make_corpus.py, and what earlier campaigns
# kept) stays as it is, and libFuzzer's set-cover merge adds the fewest grown inputs it can find
# that reach every feature (edge and hit-count bucket) the committed ones do not (on
# connection_server: 414 added where the plain -merge=1 added 943, the same features).
for t in "${queue[@]}"; do
    rm -rf "$out/min/$t" && mkdir -p "$out/min/$t"
    cp -r "$here/corpus/$t/." "$out/min/$t/" 2>/dev/null || true
    "$bin_dir/$t" -set_cover_merge=1 -rss_limit_mb=2048 "$out/min/$t" "$out/corpus/$t" \
        >"$out/logs/$t.merge.log" 2>&1
done

# Coverage of the minimised corpus, per source file of the library (regions, lines).
llvm_bin="$(rustc +nightly --print sysroot)/lib/rustlib/$triple/bin"
if [[ ! -x "$llvm_bin/llvm-cov" ]]; then
    rustup component add --toolchain nightly llvm-tools-preview
fi
for t in "${queue[@]}"; do
    cargo +nightly fuzz coverage "$t" "$out/min/$t" >"$out/logs/$t.coverage.log" 2>&1
    "$llvm_bin/llvm-cov" report "$here/target/$triple/coverage/$triple/release/$t" \
        -instr-profile="$here/coverage/$t/coverage.profdata" \
        -ignore-filename-regex='(\.cargo|rustc|/fuzz/|/library/)' >"$out/coverage/$t.txt"
done

# The campaign's coverage as a whole: every target's profile merged, over every target's binary.
objects=()
for t in "${queue[@]}"; do
    objects+=(-object "$here/target/$triple/coverage/$triple/release/$t")
done
"$llvm_bin/llvm-profdata" merge -sparse "$here"/coverage/*/coverage.profdata -o "$out/coverage/all.profdata"
"$llvm_bin/llvm-cov" report "${objects[@]:1}" -instr-profile="$out/coverage/all.profdata" \
    -ignore-filename-regex='(\.cargo|rustc|/fuzz/|/library/)' >"$out/coverage/all.txt"

failed=()
for t in "${queue[@]}"; do
    read -r cpu wall crashes capped <"$out/stats/$t"
    log="$out/logs/$t.log"
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' |
        awk '{s += $1} END {print s + 0}')
    cov=$(grep -o 'cov: *[0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || echo 0)
    ft=$(grep -o 'ft: *[0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || echo 0)
    grown=$(find "$out/corpus/$t" -type f | wc -l)
    min=$(find "$out/min/$t" -type f | wc -l)
    added=$((min - $(find "$here/corpus/$t" -type f | wc -l)))
    min_kb=$(find "$out/min/$t" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f", s / 1024}')
    # Line coverage of the library as a whole, and of the files the target reaches at all.
    lines=$(awk '/^TOTAL/ {print $(NF-3)}' "$out/coverage/$t.txt")
    reached=$(awk '$1 ~ /\.rs$/ && $8 > $9 {l += $8; m += $9} END {if (l) printf "%.1f%%", 100 * (l - m) / l}' \
        "$out/coverage/$t.txt")
    # libFuzzer keeps inputs slower than 10 s as slow-unit-*: time each again alone (a unit
    # running while the machine paused the fuzzer is slow only by the clock).
    slow="" worst=0
    for unit in "$out/artifacts/$t"/slow-unit-*; do
        [[ -e $unit ]] || continue
        ms=$("$bin_dir/$t" "$unit" 2>&1 | sed -n 's/^Executed .* in \([0-9]*\) ms$/\1/p')
        ((${ms:-0} > worst)) && worst=${ms:-0}
        slow=$((${slow:-0} + 1))
    done
    result=ok
    [[ -n $slow ]] && result="ok (slow units: $slow, $worst ms at most when run again)"
    ((crashes)) && { result="CRASH×$crashes"; failed+=("$t"); }
    ((capped)) && result="$result (wall cap: starved)"
    printf 'summary: %s cpu=%ss wall=%ss execs=%s exec/s=%s cov=%s ft=%s corpus=%s min=%s (+%s, %s KiB) lines=%s reached-files=%s result=%s\n' \
        "$t" "$cpu" "$wall" "$execs" "$((execs / (cpu > 0 ? cpu : 1)))" "$cov" "$ft" "$grown" \
        "$min" "$added" "$min_kb" "${lines:-?}" "${reached:-?}" "$result"
done

awk '$1 ~ /^protocol\// { l += $8; m += $9 }
     $1 == "TOTAL" { total = $(NF-3) }
     END { printf "summary: all targets together: lines %.1f%% of protocol/ (the sans-I/O core), %s of the library linked in (coverage/all.txt: per file)\n", 100 * (l - m) / l, total }' \
    "$out/coverage/all.txt"

if ((keep)); then
    for t in "${queue[@]}"; do
        rm -rf "$here/corpus/$t" && cp -r "$out/min/$t" "$here/corpus/$t"
    done
    echo "corpus/: the minimised corpora kept ($(find "$here/corpus" -type f | wc -l) files)"
fi
if ((${#failed[@]})); then
    echo "crashed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
