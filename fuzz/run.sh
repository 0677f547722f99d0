#!/usr/bin/env bash
# Fuzzes the proxy's byte-level HTTP/1.1 parsers (Sources/TugboatProxy/HTTP1), two ways, and the
# HTTP/2 HPACK decoder (Sources/TugboatProxy/HTTP2/Wire; 1b below, HPACK_SECONDS=30, 0 to skip), the
# TLS-side parsers (ClientHelloPeek, the OCSP DERReader; 1c below, TLS_SECONDS=20, 0 to skip):
#
#   1. libFuzzer + AddressSanitizer: fuzz/FuzzRequestHead.swift compiled with swiftc straight
#      against the seven parser files (HeadScanner, RequestHead, ResponseHead, ChunkedScanner,
#      HeaderKind, HeadError, FramingFields: only Glibc). Every buffer a parser sees is an exactly-sized
#      malloc block, so a read past it is an ASan report; a trickled head must end where the whole
#      one does; a chunked body scanned in one go, split at input-derived points and byte by byte
#      must give the same consumed count, end and data. A crash, an ASan report, a trap, an input
#      taking over 2 s (-timeout=2: a hang) or over 2 GiB fails the run.
#   2. The differential harness tugboat-fuzz-diff (fuzz/diff): mutated requests through a model of
#      the proxy's request path and through NIO's HTTPRequestDecoder (llhttp); for every request the
#      byte path accepts, NIO must agree on method, target, version, header fields, keep-alive and
#      body/framing, except for the documented, intended differences listed in fuzz/diff/main.swift.
#
#   bash fuzz/run.sh                                   # 60 s of libFuzzer, 30 s of differential
#   FUZZ_SECONDS=600 DIFF_SECONDS=120 bash fuzz/run.sh
#   FUZZ_SECONDS=0 bash fuzz/run.sh                    # the differential harness only (DIFF_SECONDS=0: libFuzzer only)
#   DIFF_CONFIG=debug bash fuzz/run.sh                 # CI, after `swift test`: no release build needed
#   FUZZ_JOBS=2 FUZZ_SECONDS=660 DIFF_SECONDS=120 bash fuzz/run.sh   # the README's figure (>10 million executions)
#
# Knobs: FUZZ_SECONDS (60), FUZZ_JOBS (1: libFuzzer processes, each FUZZ_SECONDS long, executions
# summed), FUZZ_MAX_LEN (4096), FUZZ_RSS_MB (2048), FUZZ_SEED (libFuzzer's -seed; default random,
# printed), DIFF_SECONDS (30), DIFF_SEED (default: the time, printed), DIFF_CONFIG (release; debug
# reuses the debug build `swift test` already made, at about a tenth of the inputs per second),
# FUZZ_CORPUS (a directory to start from and keep, e.g. a previous run's; default: a fresh seed
# corpus in the temp dir), FUZZ_ARTIFACTS (/tmp/tugboat-fuzz-artifacts: where a crashing input is
# copied). Temp files live in one mktemp directory, removed at exit. Exit 1 on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_JOBS=${FUZZ_JOBS:-1}
FUZZ_MAX_LEN=${FUZZ_MAX_LEN:-4096}
FUZZ_RSS_MB=${FUZZ_RSS_MB:-2048}
FUZZ_ARTIFACTS=${FUZZ_ARTIFACTS:-/tmp/tugboat-fuzz-artifacts}
DIFF_SECONDS=${DIFF_SECONDS:-30}
DIFF_SEED=${DIFF_SEED:-$(date +%s)}
DIFF_CONFIG=${DIFF_CONFIG:-release}
HPACK_SECONDS=${HPACK_SECONDS:-30}
TLS_SECONDS=${TLS_SECONDS:-20}

work=$(mktemp -d /tmp/tugboat-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0

# ---------------------------------------------------------------------------------------------
# 1. libFuzzer

seed_corpus() {
  local dir=$1 n=0
  mkdir -p "$dir"
  local long_target
  long_target="/$(printf '%*s' 3000 '' | tr ' ' a)"
  # %b: \r \n \t \0 \xHH are expanded.
  local seeds=(
    'GET / HTTP/1.1\r\nHost: a\r\n\r\n'
    'GET /p?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: x\r\nAccept: */*\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n\r\n'
    'HEAD / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n'
    'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n'
    'GET http://a/abs HTTP/1.1\r\nHost: a\r\n\r\n'
    'GET / HTTP/1.0\r\n\r\n'
    'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'
    'POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello'
    'POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'
    'POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;n=v\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n'
    'GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n'
    'POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\nHost: a\r\n\r\n'
    'POST /1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n'
    'GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'
    'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n'
    'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'
    'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
    'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n'
    'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
    'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc'
    'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd'
    'GET / HTTP/1.1\r\nHost: a\r\nX-Fold: a\r\n b\r\n\r\n'
    'GET / HTTP/1.1\r\nHost: a\r\nX-CR: a\rb\r\n\r\n'
    'GET /lf HTTP/1.1\nHost: a\nX: b\n\n'
    'GET / HTTP/1.1\r\nHost: a\r\nX-Nul: a\0b\r\n\r\n'
    'GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n'
    'GET / HTTP/1.1\r\nHost: a\r\nX-Obs: caf\xc3\xa9 \xff\r\n\r\n'
    "GET ${long_target} HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n"
    'CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n'
    'TRACE / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx'
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n'
    'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n'
    'HTTP/1.1 304 Not Modified\r\n\r\n'
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n'
    'HTTP/1.0 200 OK\r\n\r\nuntil close'
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'
    '5\r\nhello\r\n0\r\n\r\n'
    '1;a=b\r\nx\r\n0\r\nT: v\r\n\r\n'
    '5\nhello\n0\n\n'
    '5 \r\nhello\r\n0\r\n\r\n'
    'ffffffffffffffff\r\n'
    '10000000000000000\r\n'
  )
  for seed in "${seeds[@]}"; do
    printf '%b' "$seed" >"$dir/seed-$(printf '%02d' $n)"
    n=$((n + 1))
  done
}

if [ "$FUZZ_SECONDS" -gt 0 ]; then
  parsers=(HeadScanner RequestHead ResponseHead ChunkedScanner HeaderKind HeadError FramingFields)
  sources=()
  for parser in "${parsers[@]}"; do sources+=("Sources/TugboatProxy/HTTP1/$parser.swift"); done
  linker=()
  # The toolchain's lld avoids ld.gold's warnings about ASan's local symbols.
  if [ -x "$(dirname "$(command -v swiftc)")/ld.lld" ]; then linker=(-use-ld=lld); fi
  compile=(swiftc -O -sanitize=fuzzer,address "${linker[@]}" -parse-as-library -package-name tugboat
           "${sources[@]}" fuzz/FuzzRequestHead.swift)
  echo "== libFuzzer: ${compile[*]} -o fuzz-http1"
  "${compile[@]}" -o "$work/fuzz-http1" 2>"$work/swiftc.log" || { cat "$work/swiftc.log"; exit 1; }

  corpus=${FUZZ_CORPUS:-$work/corpus}
  if [ -z "$(ls -A "$corpus" 2>/dev/null)" ]; then seed_corpus "$corpus"; fi
  seeds_in=$(ls "$corpus" | wc -l)
  mkdir -p "$work/artifacts"
  fuzz_args=(-timeout=2 -rss_limit_mb="$FUZZ_RSS_MB" -max_len="$FUZZ_MAX_LEN" -dict=fuzz/http1.dict -print_final_stats=1)
  echo "== libFuzzer: ${FUZZ_JOBS} job(s) x ${FUZZ_SECONDS} s, corpus $corpus ($seeds_in inputs)"
  # The Swift runtime's backtracer would race ASan's report; libFuzzer prints the stack itself.
  export SWIFT_BACKTRACE=enable=no
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
  # One job: libFuzzer until FUZZ_SECONDS are used. A timeout is re-run alone (-runs=5, same
  # -timeout=2): the target is deterministic, so a real hang hangs again and fails the run; one
  # that finishes in milliseconds was the machine stalling the process (seen on a loaded 2-core VM),
  # is reported as such, and the job goes on (same corpus) for the time left.
  run_job() {
    local job=$1 attempt=0 started left rc
    started=$(date +%s)
    while true; do
      attempt=$((attempt + 1))
      left=$((FUZZ_SECONDS - ($(date +%s) - started)))
      [ "$left" -ge 5 ] || return 0
      local extra=()
      [ -n "${FUZZ_SEED:-}" ] && extra=(-seed=$((FUZZ_SEED + 100 * job + attempt)))
      mkdir -p "$work/artifacts-$job-$attempt"
      rc=0
      "$work/fuzz-http1" "${fuzz_args[@]}" -max_total_time="$left" -artifact_prefix="$work/artifacts-$job-$attempt/" \
        "${extra[@]}" "$corpus" >"$work/fuzz-$job-$attempt.log" 2>&1 || rc=$?
      [ "$rc" -eq 0 ] && return 0
      local timeouts others
      timeouts=$(find "$work/artifacts-$job-$attempt" -name 'timeout-*' | head -1)
      others=$(find "$work/artifacts-$job-$attempt" -type f ! -name 'timeout-*' | head -1)
      if [ -n "$timeouts" ] && [ -z "$others" ] \
         && "$work/fuzz-http1" -timeout=2 -runs=5 "$timeouts" >"$work/recheck-$job-$attempt.log" 2>&1; then
        echo "   job $job: libFuzzer timed out on an input that runs in $(sed -n 's/^Executed .* in \([0-9]* ms\).*/\1/p' "$work/recheck-$job-$attempt.log" | head -1) alone: a stall of the machine, not a hang; going on"
        echo "stall" >"$work/artifacts-$job-$attempt/.stall"
        continue
      fi
      return "$rc"
    done
  }
  pids=()
  for job in $(seq 1 "$FUZZ_JOBS"); do
    run_job "$job" &
    pids+=($!)
  done
  fuzz_rc=0
  for pid in "${pids[@]}"; do wait "$pid" || fuzz_rc=$?; done
  # Everything but the stalls' inputs is a finding.
  for dir in "$work"/artifacts-*; do
    [ -e "$dir/.stall" ] && continue
    cp "$dir"/* "$work/artifacts/" 2>/dev/null || true
  done

  executions=0; rate=0
  for job in $(seq 1 "$FUZZ_JOBS"); do
    units_job=0; last=""
    for log in "$work"/fuzz-"$job"-*.log; do
      units=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
      units_job=$((units_job + ${units:-0}))
      last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    done
    executions=$((executions + units_job))
    echo "   job $job: $units_job executions in $(ls "$work"/fuzz-"$job"-*.log | wc -l) run(s); last: ${last:-none}"
  done
  rate=$((executions / FUZZ_SECONDS))
  corpus_files=$(ls "$corpus" | wc -l)
  # The corpus both jobs wrote, minimised (libFuzzer -merge=1): the figure to compare between runs.
  mkdir -p "$work/merged"
  "$work/fuzz-http1" -merge=1 -timeout=10 "$work/merged" "$corpus" >"$work/merge.log" 2>&1 || true
  merged=$(ls "$work/merged" | wc -l)
  coverage=$(sed -n 's/.*MERGE-OUTER: [0-9]* new files with \([0-9]*\) new features added; \([0-9]*\) new coverage edges.*/\2 edges, \1 features/p' "$work/merge.log" | tail -1)
  echo "   libFuzzer total: $executions executions in ${FUZZ_SECONDS} s with $FUZZ_JOBS job(s), $rate exec/s;" \
       "corpus $seeds_in seeds -> $corpus_files files, merged to $merged inputs (${coverage:-coverage n/a})"
  if [ "$fuzz_rc" -ne 0 ] || ls "$work/artifacts" | grep -q .; then
    failed=1
    echo "FAIL: libFuzzer exited $fuzz_rc"
    for log in "$work"/fuzz-*-*.log; do
      grep -qE 'ERROR|Fatal error|fuzz-http1:|deadly signal|out-of-memory' "$log" \
        && { echo "--- $(basename "$log") (last 60 lines)"; tail -60 "$log"; }
    done
    if ls "$work/artifacts" | grep -q .; then
      mkdir -p "$FUZZ_ARTIFACTS"
      cp "$work/artifacts/"* "$FUZZ_ARTIFACTS/"
      for artifact in "$work/artifacts/"*; do
        echo "   input $(basename "$artifact") kept in $FUZZ_ARTIFACTS; reproduce with the swiftc line above, then" \
             "SWIFT_BACKTRACE=enable=no ./fuzz-http1 $FUZZ_ARTIFACTS/$(basename "$artifact"):"
        od -c "$artifact" | head -20
      done
    fi
  fi
fi

# ---------------------------------------------------------------------------------------------
# 1b. libFuzzer on the HPACK decoder (fuzz/FuzzHPACK.swift): a connection's header blocks, the
#     table and list limits chosen by the input; ASan, the table and list bounds, and two decoders
#     agreeing. HPACK_SECONDS (30) long, one job.

# One libFuzzer job (ASan) on a target compiled straight from its files:
#   run_single_fuzzer NAME SECONDS MAX_LEN TARGET.swift SOURCE.swift... ; the corpus is $work/NAME-corpus
#   (seeded by the caller), a crashing input lands in $FUZZ_ARTIFACTS.
run_single_fuzzer() {
  local name=$1 seconds=$2 max_len=$3 target=$4
  shift 4
  local linker=()
  if [ -x "$(dirname "$(command -v swiftc)")/ld.lld" ]; then linker=(-use-ld=lld); fi
  echo "== libFuzzer ($name): swiftc -O -sanitize=fuzzer,address $* $target -o fuzz-$name"
  swiftc -O -sanitize=fuzzer,address "${linker[@]}" -parse-as-library -package-name tugboat "$@" \
    "$target" -o "$work/fuzz-$name" 2>"$work/swiftc-$name.log" || { cat "$work/swiftc-$name.log"; exit 1; }
  mkdir -p "$work/$name-corpus" "$work/$name-artifacts"
  local rc=0
  SWIFT_BACKTRACE=enable=no "$work/fuzz-$name" -timeout=10 -rss_limit_mb="$FUZZ_RSS_MB" -max_len="$max_len" -print_final_stats=1 \
    -max_total_time="$seconds" -artifact_prefix="$work/$name-artifacts/" "$work/$name-corpus" >"$work/fuzz-$name.log" 2>&1 || rc=$?
  local units
  units=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz-$name.log" | tail -1)
  echo "   $name: ${units:-0} executions in $seconds s"
  if [ "$rc" -ne 0 ] || ls "$work/$name-artifacts" | grep -q .; then
    failed=1
    echo "FAIL: libFuzzer ($name) exited $rc"
    tail -40 "$work/fuzz-$name.log"
    mkdir -p "$FUZZ_ARTIFACTS"
    cp "$work/$name-artifacts/"* "$FUZZ_ARTIFACTS/" 2>/dev/null || true
    for artifact in "$work/$name-artifacts/"*; do [ -e "$artifact" ] && od -An -tx1 "$artifact" | head -10; done
  fi
}

if [ "$HPACK_SECONDS" -gt 0 ]; then
  mkdir -p "$work/hpack-corpus"
  # RFC 7541 C.3.1 and C.4.1–C.4.2 after the two bytes that choose the limits; a large entry named again and again.
  printf '%b' '\x80\x40\x82\x86\x84\x41\x0f\x77\x77\x77\x2e\x65\x78\x61\x6d\x70\x6c\x65\x2e\x63\x6f\x6d' >"$work/hpack-corpus/c31"
  printf '%b' '\x80\x40\x82\x86\x84\x41\x8c\xf1\xe3\xc2\xe5\xf2\x3a\x6b\xa0\xab\x90\xf4\xff\x82\x86\x84\xbe\x58\x86\xa8\xeb\x10\x64\x9c\xbf' >"$work/hpack-corpus/c4"
  printf '%b' '\x10\x10\x3f\xe1\x1f\x40\x01x\x7f\x10aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xbe\xbe\xbe\xbe\xbe' >"$work/hpack-corpus/bomb"
  wire=Sources/TugboatProxy/HTTP2/Wire
  run_single_fuzzer hpack "$HPACK_SECONDS" 4096 fuzz/FuzzHPACK.swift "$wire/HPACKHuffman.swift" "$wire/HPACKStaticTable.swift" \
    "$wire/HPACKDynamicTable.swift" "$wire/HPACKInteger.swift" "$wire/HeaderFieldList.swift" "$wire/HeaderBlockDecoder.swift"
fi

# ---------------------------------------------------------------------------------------------
# 1c. libFuzzer on the TLS-side parsers (fuzz/FuzzTLSInputs.swift): the ClientHello peek of
#     tls-alpn-01 and the DER reader of OCSP responses; ASan and their bounds. TLS_SECONDS (20)
#     long, one job.

if [ "$TLS_SECONDS" -gt 0 ]; then
  mkdir -p "$work/tls-corpus"
  # A ClientHello record head with SNI and ALPN extensions; an OCSP tryLater answer; a nested DER time.
  printf '%b' '\x16\x03\x01\x00\x3a\x01\x00\x00\x36\x03\x03' >"$work/tls-corpus/hello-head"
  printf '%b' '\x30\x03\x0a\x01\x03' >"$work/tls-corpus/trylater"
  printf '%b' '\x30\x13\xa0\x11\x18\x0f20261205120000Z' >"$work/tls-corpus/time"
  run_single_fuzzer tls "$TLS_SECONDS" 20000 fuzz/FuzzTLSInputs.swift Sources/TugboatProxy/TLS/ClientHelloPeek.swift \
    Sources/TugboatACME/OCSP/DERReader.swift
fi

# ---------------------------------------------------------------------------------------------
# 2. Differential harness

if [ "$DIFF_SECONDS" -gt 0 ]; then
  echo "== differential: swift build -c $DIFF_CONFIG --product tugboat-fuzz-diff"
  build_started=$(date +%s)
  swift build -c "$DIFF_CONFIG" --product tugboat-fuzz-diff >"$work/build.log" 2>&1 \
    || { tail -40 "$work/build.log"; exit 1; }
  echo "   built in $(( $(date +%s) - build_started )) s"
  bin=$(swift build -c "$DIFF_CONFIG" --show-bin-path)/tugboat-fuzz-diff
  echo "== differential: tugboat-fuzz-diff --seconds $DIFF_SECONDS --seed $DIFF_SEED"
  "$bin" --seconds "$DIFF_SECONDS" --seed "$DIFF_SEED" || { failed=1; echo "FAIL: differential mismatch (seed $DIFF_SEED)"; }
fi

if [ "$failed" -ne 0 ]; then exit 1; fi
echo "fuzz: OK"
