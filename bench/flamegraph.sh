#!/usr/bin/env bash
# Tugboat's flame graph engine against Brendan Gregg's Perl tools (stackcollapse-perf.pl,
# flamegraph.pl) on a large `perf script` capture recorded on this machine.
#
#   FLAMEGRAPH_DIR=/path/to/FlameGraph bench/flamegraph.sh
#
# Environment:
#   FLAMEGRAPH_DIR  folder holding stackcollapse-perf.pl and flamegraph.pl (required; see below)
#   TUGBOAT_BIN     the binary to time (default .build/release/tugboat; build it as it ships, with
#                   swift build -c release --static-swift-stdlib: a dynamically linked one starts slower)
#   BENCH_DIR       scratch folder (default ${TMPDIR:-/tmp}/tugboat-flamegraph-bench; reused between runs)
#   BENCH_MB        minimum size of the perf script input in MB (default 50)
#   RUNS            timed runs of each Tugboat command (default 5); PERL_RUNS for the Perl ones (default 3)
#   BENCH_WORKLOAD  command recorded with perf record -g (default: swiftc compiling Sources/FlameGraph)
#   SMALL_RUNS      timed runs on each of FlameGraph's own test inputs (default 21: they take milliseconds)
#   SYNTH_STACKS    distinct stacks in the synthetic folded file (default 40000)
#
# Three inputs: FlameGraph's own largest test captures (test/perf-*.txt, where start-up is most of
# the time), a synthetic folded file of SYNTH_STACKS deep stacks with long C++-like names (where
# layout and SVG writing are), and:
# `perf record -g` of a busy program (the Swift compiler), then `perf script`; the
# capture is repeated, each copy under other process names (w1-…, w2-…: several workers), until
# it is at least BENCH_MB, so the profile has tens of thousands of distinct stacks.
# Needs: perf (Debian: linux-perf), perl, and kernel.perf_event_paranoid <= 2 for user stacks.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

if [[ -z "${FLAMEGRAPH_DIR:-}" || ! -f "${FLAMEGRAPH_DIR}/flamegraph.pl" || ! -f "${FLAMEGRAPH_DIR}/stackcollapse-perf.pl" ]]; then
    cat >&2 <<'USAGE'
FLAMEGRAPH_DIR must name a folder with flamegraph.pl and stackcollapse-perf.pl.
They are not part of Tugboat (and are never committed here); get them with:
    git clone https://github.com/brendangregg/FlameGraph ~/FlameGraph
    FLAMEGRAPH_DIR=~/FlameGraph bench/flamegraph.sh
USAGE
    exit 2
fi

TUGBOAT_BIN=${TUGBOAT_BIN:-.build/release/tugboat}
if [[ ! -x "$TUGBOAT_BIN" ]]; then
    echo "no Tugboat binary at $TUGBOAT_BIN: run swift build -c release, or set TUGBOAT_BIN" >&2
    exit 2
fi
TUGBOAT_BIN=$(cd "$(dirname "$TUGBOAT_BIN")" && pwd)/$(basename "$TUGBOAT_BIN")
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}/tugboat-flamegraph-bench}
BENCH_MB=${BENCH_MB:-50}
RUNS=${RUNS:-5}
PERL_RUNS=${PERL_RUNS:-3}
mkdir -p "$BENCH_DIR"
INPUT=$BENCH_DIR/input.perf

# 1. Record a busy program and repeat the capture until it is large enough.
if [[ ! -s "$INPUT" || $(stat -c %s "$INPUT") -lt $((BENCH_MB * 1000000)) ]]; then
    command -v perf >/dev/null || { echo "perf is needed (Debian: apt-get install linux-perf)" >&2; exit 2; }
    if [[ -n "${BENCH_WORKLOAD:-}" ]]; then
        read -r -a workload <<<"$BENCH_WORKLOAD"
    else
        mapfile -d '' sources < <(find "$ROOT/Sources/FlameGraph" -name '*.swift' -print0)
        workload=(swiftc -O -wmo -parse-as-library -emit-object "${sources[@]}" -module-name FlameGraphBench -o "$BENCH_DIR/workload.o")
    fi
    echo "recording: perf record -F 1999 -g -- ${workload[0]} ..." >&2
    perf record -q -F 1999 -g -o "$BENCH_DIR/record.data" -- "${workload[@]}" >/dev/null 2>&1
    perf script -i "$BENCH_DIR/record.data" > "$BENCH_DIR/capture.perf" 2>/dev/null
    [[ -s "$BENCH_DIR/capture.perf" ]] || { echo "perf script produced nothing (perf_event_paranoid?)" >&2; exit 1; }
    : > "$INPUT"
    i=1
    while [[ $(stat -c %s "$INPUT") -lt $((BENCH_MB * 1000000)) ]]; do
        sed -E "s/^([^[:space:]#])/w$i-\1/" "$BENCH_DIR/capture.perf" >> "$INPUT"
        i=$((i + 1))
    done
fi

# Wall time of one run in seconds (the median of $1 runs of the rest of the arguments). The clock
# is bash's own (no `date` process started around the run), and each run writes a new file: the
# shell truncating the last run's output would wait for its write-back to the disk (5-25 ms on
# ext4, which starts it when a truncated file is closed), time that belongs to neither tool.
median_time() {
    local runs=$1; shift
    local times=()
    for ((r = 0; r < runs; r++)); do
        local start end
        rm -f "$BENCH_DIR/out"
        start=${EPOCHREALTIME/[.,]/}
        "$@" > "$BENCH_DIR/out" 2>/dev/null
        end=${EPOCHREALTIME/[.,]/}
        times+=("$(( end - start ))")
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{ t[NR] = $1 } END { printf "%.4f", t[int((NR + 1) / 2)] / 1e6 }'
}

max_rss() {
    if [[ -x /usr/bin/time ]]; then
        /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1
    else
        echo "?"
    fi
}

PERL_COLLAPSE=("$FLAMEGRAPH_DIR/stackcollapse-perf.pl")
PERL_RENDER=("$FLAMEGRAPH_DIR/flamegraph.pl")

# 2. Check that both collapse to the same bytes, and both render the same frames.
"$TUGBOAT_BIN" collapse perf "$INPUT" > "$BENCH_DIR/tugboat.folded" 2>/dev/null
perl "${PERL_COLLAPSE[@]}" "$INPUT" > "$BENCH_DIR/perl.folded" 2>/dev/null
if cmp -s "$BENCH_DIR/tugboat.folded" "$BENCH_DIR/perl.folded"; then same=identical; else same=DIFFERENT; fi
FOLDED=$BENCH_DIR/perl.folded

size_mb=$(awk -v s="$(stat -c %s "$INPUT")" 'BEGIN { printf "%.1f", s / 1e6 }')
lines=$(wc -l < "$INPUT")
samples=$(grep -c '^$' "$INPUT" || true)
stacks=$(wc -l < "$FOLDED")

# 3. Time them.
load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
c_ours=$(median_time "$RUNS" "$TUGBOAT_BIN" collapse perf "$INPUT")
c_one=$(median_time "$RUNS" "$TUGBOAT_BIN" collapse perf --threads 1 "$INPUT")
c_perl=$(median_time "$PERL_RUNS" perl "${PERL_COLLAPSE[@]}" "$INPUT")
r_ours=$(median_time "$RUNS" "$TUGBOAT_BIN" flamegraph "$FOLDED")
r_perl=$(median_time "$PERL_RUNS" perl "${PERL_RENDER[@]}" "$FOLDED")
m_stream=$(max_rss sh -c "\"$TUGBOAT_BIN\" collapse perf < \"$INPUT\"")
m_perl=$(max_rss perl "${PERL_COLLAPSE[@]}" "$INPUT")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }'; }
add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a + b }'; }

# 4. FlameGraph's largest perf test captures, collapsed and rendered one file per process, as a
#    user runs them: their sum over the files.
SMALL_RUNS=${SMALL_RUNS:-21}
mapfile -t small_inputs < <(ls -S "$FLAMEGRAPH_DIR"/test/perf-*.txt 2>/dev/null | head -5)
s_collapse_ours=0; s_collapse_perl=0; s_render_ours=0; s_render_perl=0; s_same=identical
for f in "${small_inputs[@]}"; do
    folded=$BENCH_DIR/small-$(basename "$f" .txt).folded
    perl "${PERL_COLLAPSE[@]}" "$f" > "$folded" 2>/dev/null
    "$TUGBOAT_BIN" collapse perf "$f" 2>/dev/null | cmp -s - "$folded" || s_same=DIFFERENT
    s_collapse_ours=$(add "$s_collapse_ours" "$(median_time "$SMALL_RUNS" "$TUGBOAT_BIN" collapse perf "$f")")
    s_collapse_perl=$(add "$s_collapse_perl" "$(median_time "$SMALL_RUNS" perl "${PERL_COLLAPSE[@]}" "$f")")
    s_render_ours=$(add "$s_render_ours" "$(median_time "$SMALL_RUNS" "$TUGBOAT_BIN" flamegraph "$folded")")
    s_render_perl=$(add "$s_render_perl" "$(median_time "$SMALL_RUNS" perl "${PERL_RENDER[@]}" "$folded")")
done

# 5. The synthetic: SYNTH_STACKS stacks, 4 to 39 frames deep, that share their first frames as a
#    real program's do (a fixed seed: the same file every run).
SYNTH_STACKS=${SYNTH_STACKS:-40000}
SYNTH=$BENCH_DIR/synthetic-$SYNTH_STACKS.folded
if [[ ! -s "$SYNTH" ]]; then
    awk -v n="$SYNTH_STACKS" 'BEGIN {
        srand(7)
        for (s = 0; s < n; s++) {
            depth = 4 + int(rand() * 36); line = "app"
            for (i = 1; i < depth; i++) {
                k = int(rand() * (i < 4 ? 3 : 12))
                line = line ";mod" i % 7 "::function_" i "_" k "(int, std::string const&)"
            }
            print line, 1 + int(rand() * 200)
        }
    }' > "$SYNTH"
fi
# Frame for frame: every frame's name, samples, position and width (colours are random in
# flamegraph.pl's palettes; the order of the elements differs).
same_frames() {
    python3 - "$1" "$2" <<'PY'
import re, sys
frames = [sorted(re.findall(r'<title>([^<]*)</title>\s*<rect x="([^"]*)" y="([^"]*)" width="([^"]*)"', open(p).read()))
          for p in sys.argv[1:3]]
print("identical" if frames[0] == frames[1] and frames[0] else "DIFFERENT")
PY
}
"$TUGBOAT_BIN" flamegraph "$SYNTH" > "$BENCH_DIR/synthetic-tugboat.svg" 2>/dev/null
perl "${PERL_RENDER[@]}" "$SYNTH" > "$BENCH_DIR/synthetic-perl.svg" 2>/dev/null
y_same=$(same_frames "$BENCH_DIR/synthetic-tugboat.svg" "$BENCH_DIR/synthetic-perl.svg")
y_ours=$(median_time "$RUNS" "$TUGBOAT_BIN" flamegraph "$SYNTH")
y_perl=$(median_time "$PERL_RUNS" perl "${PERL_RENDER[@]}" "$SYNTH")

echo "load average before timing: $load (other work on the machine skews both tools' times)"
echo "input: $size_mb MB of perf script ($lines lines, $samples samples), $stacks distinct stacks; $(nproc) cores"
if ldd "$TUGBOAT_BIN" 2>/dev/null | grep -q libswiftCore; then
    echo "tugboat: $TUGBOAT_BIN (Swift runtime linked dynamically: the shipped binary links it statically and starts in about half the time; build it with swift build -c release --static-swift-stdlib)"
else
    echo "tugboat: $TUGBOAT_BIN (Swift runtime linked statically, as shipped)"
fi
printf '%-18s %-8s %10s   %-22s %10s   %s\n' "step" "tool" "seconds" "tool" "seconds" "speed-up"
printf '%-18s %-8s %10s   %-22s %10s   %s\n' "collapse" "tugboat" "$c_ours" "stackcollapse-perf.pl" "$c_perl" "$(ratio "$c_perl" "$c_ours")"
printf '%-18s %-8s %10s   %-22s %10s   %s\n' "  (1 thread)" "" "$c_one" "" "" "$(ratio "$c_perl" "$c_one")"
printf '%-18s %-8s %10s   %-22s %10s   %s\n' "render" "tugboat" "$r_ours" "flamegraph.pl" "$r_perl" "$(ratio "$r_perl" "$r_ours")"
printf '%-18s %-8s %10s   %-22s %10s   %s\n' "small: collapse" "tugboat" "$s_collapse_ours" "stackcollapse-perf.pl" "$s_collapse_perl" "$(ratio "$s_collapse_perl" "$s_collapse_ours")"
printf '%-18s %-8s %10s   %-22s %10s   %s\n' "small: render" "tugboat" "$s_render_ours" "flamegraph.pl" "$s_render_perl" "$(ratio "$s_render_perl" "$s_render_ours")"
printf '%-18s %-8s %10s   %-22s %10s   %s\n' "synthetic: render" "tugboat" "$y_ours" "flamegraph.pl" "$y_perl" "$(ratio "$y_perl" "$y_ours")"
echo "small: FlameGraph's test inputs, one process per file, seconds summed over: ${small_inputs[*]##*/} (collapse output: $s_same bytes)"
echo "synthetic: frames $y_same; $(wc -l < "$SYNTH") lines, $(awk -v s="$(stat -c %s "$SYNTH")" 'BEGIN { printf "%.1f", s / 1e6 }') MB of folded stacks"
echo "collapse output: $same bytes; peak memory collapsing from stdin: tugboat ${m_stream} KB, stackcollapse-perf.pl ${m_perl} KB"
goal() { awk -v a="$1" -v b="$2" -v g="$3" 'BEGIN { if (b > 0 && a / b >= g) print "met"; else print "NOT met" }'; }
echo "goals: collapse >= 30x stackcollapse-perf.pl: $(ratio "$c_perl" "$c_ours") ($(goal "$c_perl" "$c_ours" 30)); render >= 20x flamegraph.pl: $(ratio "$r_perl" "$r_ours") on the capture ($(goal "$r_perl" "$r_ours" 20)), $(ratio "$y_perl" "$y_ours") on the synthetic ($(goal "$y_perl" "$y_ours" 20))"
