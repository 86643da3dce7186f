#!/usr/bin/env bash
# Runs every fuzz target of build/fuzz for a bounded time (make fuzz).
#   tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
# Each target starts from its committed seeds (tests/fuzz/corpus/<target>/), the
# inputs that once failed (tests/fuzz/regressions/<target>/) and
# the inputs earlier runs found (build/fuzz/corpus/<target>/, kept between
# runs, never committed). A crash, sanitizer report, invariant violation, hang
# (> 10 s per input) or memory blow-up (> 2 GB) is written to
# build/fuzz/artifacts/<target>/; the script then fails and says how to keep
# the input as a regression test. Figures: build/fuzz/summary.txt.
# Targets run FUZZ_JOBS at a time (default: one per core): a libFuzzer process
# uses one core, so on two cores two targets fuzz for the price of one.
set -uo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_TARGET=${1:-${FUZZ_SECONDS:-30}}
shift || true
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(protocol text accumulator speech_request normalizer utf8)
BIN=build/fuzz/bin
SUMMARY=build/fuzz/summary.txt
mkdir -p build/fuzz
: > "$SUMMARY"
JOBS=${FUZZ_JOBS:-$(nproc)}

fuzz_one() {  # target: fuzzes it, prints its line of figures; exit status as libFuzzer's
  local t=$1 work=build/fuzz/corpus/$1 artifacts=build/fuzz/artifacts/$1 log=build/fuzz/$1.log
  mkdir -p "$work" "$artifacts"
  local extra=()
  [ -f "tests/fuzz/$t.dict" ] && extra+=("-dict=tests/fuzz/$t.dict")
  # Inputs that once failed run first, like the seeds (read-only: new inputs go to $work).
  local regressions=()
  [ -d "tests/fuzz/regressions/$t" ] && regressions+=("tests/fuzz/regressions/$t")
  # UBSan and ASan findings abort, so libFuzzer saves the input.
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
    "$BIN/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" "${extra[@]}" "$work" "tests/fuzz/corpus/$t" \
      "${regressions[@]}" > "$log" 2>&1
  local rc=$?
  local execs rate cov corpus
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  corpus=$(find "$work" -type f | wc -l)
  echo "$t: ${execs:-?} inputs in ${SECONDS_PER_TARGET} s (${rate:-?}/s), coverage ${cov:-?} edges, corpus $corpus, exit $rc"
  return $rc
}

# Each target's line and exit status land in build/fuzz/<target>.{line,rc}.
running=0
for t in "${TARGETS[@]}"; do
  if ((running >= JOBS)); then wait -n; running=$((running - 1)); fi
  echo "fuzz: $t for ${SECONDS_PER_TARGET} s"
  (fuzz_one "$t" > "build/fuzz/$t.line"; echo $? > "build/fuzz/$t.rc") &
  running=$((running + 1))
done
wait
failed=()
for t in "${TARGETS[@]}"; do
  line=$(cat "build/fuzz/$t.line")
  echo "  $line"
  echo "$line" >> "$SUMMARY"
  if [ "$(cat "build/fuzz/$t.rc")" -ne 0 ]; then
    failed+=("$t")
    grep -E 'INVARIANT|ERROR: |SUMMARY: |runtime error|Test unit written|==[0-9]+==' "build/fuzz/$t.log" | head -20 | sed 's/^/    /'
  fi
done
if ((${#failed[@]})); then
  echo
  echo "fuzz: FAILED: ${failed[*]} (logs build/fuzz/<target>.log)."
  echo "Reproduce:  build/fuzz/bin/fuzz_<target> build/fuzz/artifacts/<target>/<file>"
  echo "Keep it:    cp build/fuzz/artifacts/<target>/<file> tests/fuzz/regressions/<target>/  (runs in the unit tests)"
  exit 1
fi
echo "fuzz: ok ($SUMMARY)"
